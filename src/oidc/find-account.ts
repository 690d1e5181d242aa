import type { FindAccount } from 'oidc-provider';

import { claimsFor, type AccountService } from '../accounts/index.ts';

/**
 * The engine's findAccount: a person it may issue for, with the claims their granted
 * scopes release. Unknown or disabled: undefined, so the engine ends sessions and refuses
 * tokens.
 */
export function createFindAccount(accounts: Pick<AccountService, 'findById'>): FindAccount {
  return async (_ctx, sub) => {
    const account = await accounts.findById(sub);
    if (!account || account.disabled) return undefined;
    return {
      accountId: account.id,
      claims: (_use, scope) => ({ ...claimsFor(account, new Set(scope.split(' '))) }),
    };
  };
}
