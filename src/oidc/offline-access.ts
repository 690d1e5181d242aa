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

type Client = KoaContextWithOIDC['oidc']['client'];

/**
 * Whether this request may rest on a remembered offline_access: the client is registered
 * for it (and the refresh_token grant) today, and the grant of this request holds it, i.e.
 * the person allowed it. An operator who takes offline_access from a client ends this.
 */
function offlineAccessRemembered(ctx: KoaContextWithOIDC, client: Client): boolean {
  if (!client?.grantTypeAllowed('refresh_token') || !client.scope?.split(' ').includes('offline_access')) return false;
  const grant = ctx.oidc.entities.Grant;
  return Boolean(grant?.getOIDCScope().split(' ').includes('offline_access'));
}

export const issueRefreshToken: IssueRefreshToken = (ctx, client, code) =>
  client.grantTypeAllowed('refresh_token') && (code.scopes.has('offline_access') || offlineAccessRemembered(ctx, client));

/** A refresh token the person allowed offline outlives the browser session, as offline_access does. */
export const expiresWithSession: ExpiresWithSession = (ctx, token) => {
  if (token.scopes.has('offline_access')) return false;
  return !offlineAccessRemembered(ctx, ctx.oidc.client);
};
