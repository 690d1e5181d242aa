import type { FindAccount } from 'oidc-provider';

import { claimsFor } from '../accounts/index.ts';
import { errors } from './engine.ts';
import type { RequestAccounts } from './request-accounts.ts';
import { PORTCULLIS_ACR_MFA, secondFactorRequired, type MfaRequirement } from './second-factor-policy.ts';

/** What the token endpoint redeems for a person: each keeps the acr of its sign-in. */
const REDEEMED = new Set(['AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest']);

/**
 * The engine's findAccount: a person it may issue for, with the claims their granted
 * scopes release. Unknown or disabled: undefined, so the engine ends sessions and refuses
 * tokens. At the token endpoint, a code or refresh token from a sign-in without a second
 * factor is refused (invalid_grant) where one is now required for this person at this
 * client (a role given since, a client switched to require MFA, MFA=required): as the
 * authorization endpoint would ask for it, a refresh token must not outlive the rule.
 */
export function createFindAccount(accounts: RequestAccounts, requirement: MfaRequirement = { mode: 'optional', roles: [] }): FindAccount {
  return async (ctx, sub, token) => {
    const account = await accounts.find(ctx, sub);
    if (!account || account.disabled) return undefined;
    // A rotated refresh token presented again is left to the engine, which runs its reuse
    // detection (the grant ends) only after this: refusing it here would spare the family.
    const replayed = token?.kind === 'RefreshToken' && Boolean((token as { consumed?: unknown }).consumed);
    if (token && REDEEMED.has(token.kind) && !replayed && (token as { acr?: unknown }).acr !== PORTCULLIS_ACR_MFA && secondFactorRequired(requirement, ctx.oidc?.client, account.roles)) {
      throw new errors.InvalidGrant(`${token.kind === 'RefreshToken' ? 'this refresh token' : 'this grant'} comes from a sign-in without the second factor now required: sign in again`);
    }
    return {
      accountId: account.id,
      claims: (_use, scope) => ({ ...claimsFor(account, new Set(scope.split(' '))) }),
    };
  };
}
