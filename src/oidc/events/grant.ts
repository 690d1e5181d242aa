import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';

import { requestFacts } from '../../audit/index.ts';
import type { EventDeps, Guard } from './listener.ts';

// Tokens issued, and whole grants revoked (and why). Nothing recorded is a token, a code
// or a jti (an opaque token's jti IS the token); grant ids are internal and safe, and tie
// a token family's events together.

interface TokenLike {
  readonly kind?: string;
  readonly accountId?: string;
  readonly clientId?: string;
  readonly grantId?: string;
  readonly scope?: string;
  readonly aud?: string | string[];
  readonly resourceServer?: { readonly audience?: string };
}

interface GrantLike {
  readonly jti?: string;
  readonly openid?: { readonly scope?: string };
  readonly resources?: Record<string, string>;
}

type Entities = Partial<Record<string, TokenLike & GrantLike>>;

function entitiesOf(ctx: KoaContextWithOIDC): Entities {
  return ctx.oidc.entities as unknown as Entities;
}

function audienceOf(token: TokenLike | undefined): string | undefined {
  if (!token) return undefined;
  const aud = token.resourceServer?.audience ?? token.aud;
  return Array.isArray(aud) ? aud.join(' ') : aud;
}

/** The client a grant belongs to in the session being logged out (a session holds one per client). */
function clientOfGrant(ctx: KoaContextWithOIDC, grantId: string): string | undefined {
  const authorizations = ctx.oidc.session?.authorizations;
  return Object.entries(authorizations ?? {}).find(([, value]) => value.grantId === grantId)?.[0];
}

function revocationReason(ctx: KoaContextWithOIDC): string {
  const route = ctx.oidc.route;
  if (route === 'token') {
    const grantType = ctx.oidc.params?.grant_type;
    if (grantType === 'refresh_token') return 'refresh_token_reuse';
    if (grantType === 'authorization_code') return 'authorization_code_reuse';
    return 'token_reuse';
  }
  if (route === 'revocation') return 'revocation';
  if (route.startsWith('end_session')) return 'logout';
  return route;
}

/** grant.success and grant.revoked: `token.issued`, `grant.revoked` and refresh-token reuse. */
export function observeGrants(provider: Provider, deps: EventDeps, guard: Guard): void {
  const { audit, metrics } = deps;

  provider.on(
    'grant.success',
    guard('grant.success', (ctx: KoaContextWithOIDC) => {
      const entities = entitiesOf(ctx);
      const grantType = typeof ctx.oidc.params?.grant_type === 'string' ? ctx.oidc.params.grant_type : 'unknown';
      const clientId = ctx.oidc.client?.clientId;
      const token = entities.AccessToken ?? entities.ClientCredentials;
      metrics?.tokensIssued.inc({ grant_type: grantType, client_id: clientId ?? 'unknown' });
      audit.record({
        type: 'token.issued',
        actor: clientId,
        accountId: token?.accountId ?? entities.Account?.accountId,
        clientId,
        ...requestFacts(ctx),
        data: {
          grantType,
          scope: token?.scope,
          resource: audienceOf(token),
          refreshTokenIssued: entities.RefreshToken !== undefined,
          ...(entities.RotatedRefreshToken && { rotated: true }),
          ...(token?.grantId && { grantId: token.grantId }),
        },
      });
    }),
  );

  provider.on(
    'grant.revoked',
    guard('grant.revoked', (ctx: KoaContextWithOIDC, grantId: string) => {
      const entities = entitiesOf(ctx);
      const reason = revocationReason(ctx);
      const token = entities.RefreshToken ?? entities.AuthorizationCode ?? entities.AccessToken;
      const clientId = reason === 'logout' ? (clientOfGrant(ctx, grantId) ?? ctx.oidc.client?.clientId) : ctx.oidc.client?.clientId;
      const accountId = token?.accountId ?? ctx.oidc.session?.accountId;
      const facts = { accountId, clientId, ...requestFacts(ctx) };
      // The engine revokes a grant at the token endpoint's refresh grant for one reason
      // only: the refresh token presented was already rotated (used).
      if (reason === 'refresh_token_reuse') {
        metrics?.refreshReuse.inc();
        audit.record({ type: 'token.refresh_reuse_detected', actor: clientId, ...facts, data: { grantId, familyRevoked: true } });
      }
      const actor = reason === 'logout' ? accountId : clientId;
      audit.record({ type: 'grant.revoked', actor, ...facts, data: { grantId, reason } });
    }),
  );
}
