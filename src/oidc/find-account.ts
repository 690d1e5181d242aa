import type { FindAccount } from 'oidc-provider';

import { claimsFor } from '../accounts/index.ts';
import type { RequestAccounts } from './request-accounts.ts';

/**
 * The engine's findAccount: a person it may issue for, with the claims their granted
 * scopes release. Unknown or disabled: undefined, so the engine ends sessions and refuses
 * tokens.
 */
export function createFindAccount(accounts: RequestAccounts): FindAccount {
  return async (ctx, sub) => {
    const account = await accounts.find(ctx, sub);
    if (!account || account.disabled) return undefined;
    return {
      accountId: account.id,
      claims: (_use, scope) => ({ ...claimsFor(account, new Set(scope.split(' '))) }),
    };
  };
}
