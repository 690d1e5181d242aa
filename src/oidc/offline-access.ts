import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';

// Refresh tokens for a person who allowed an app offline access once. The engine keeps
// `offline_access` in an authorization request only with prompt=consent (OpenID Connect
// Core 11), so by default an app would have to send prompt=consent, and the person see the
// consent page, on every sign-in just to get a refresh token. Consent is remembered per
// person and app (consent-reuse.ts): when the grant of this sign-in holds offline_access,
// the person already allowed it, and the engine's documented seams (issueRefreshToken,
// expiresWithSession) honour that without asking again. The client must still be allowed
// the refresh_token grant.

type IssueRefreshToken = NonNullable<Configuration['issueRefreshToken']>;
type ExpiresWithSession = NonNullable<Configuration['expiresWithSession']>;

/** Whether the grant of this request holds offline_access: the person allowed it. */
function grantHoldsOfflineAccess(ctx: KoaContextWithOIDC): boolean {
  const grant = ctx.oidc.entities.Grant;
  return Boolean(grant?.getOIDCScope().split(' ').includes('offline_access'));
}

export const issueRefreshToken: IssueRefreshToken = (ctx, client, code) =>
  client.grantTypeAllowed('refresh_token') && (code.scopes.has('offline_access') || grantHoldsOfflineAccess(ctx));

/** A refresh token the person allowed offline outlives the browser session, as offline_access does. */
export const expiresWithSession: ExpiresWithSession = (ctx, token) => {
  if (token.scopes.has('offline_access')) return false;
  return !(ctx.oidc.client?.grantTypeAllowed('refresh_token') && grantHoldsOfflineAccess(ctx));
};
