import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';

import { requestFacts, type AuditSink } from './audit-sink.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';

// What the engine tells us, turned into audit events and metrics: tokens issued, whole
// grants revoked (and why), introspection results. (Logins, consent, logout, single-token
// revocation and refresh reuse are recorded where they are decided: interactions/ and
// oidc/refresh-grace.ts, extend-introspection-and-revocation.ts. OAuth errors are counted
// from the final response, http/response-error.ts: the engine's error events fire before
// our extensions may still answer successfully.)
// The engine emits its events synchronously inside the request, so every listener here
// is wrapped: a bug in observing must never fail a token request. Nothing recorded is a
// token, a code or a jti (an opaque token's jti IS the token); grant ids are internal
// and safe, and tie a token family's events together.

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

export function observeProvider(provider: Provider, deps: { audit: AuditSink; metrics?: Metrics | undefined; logger: Logger }): void {
  const { audit, metrics, logger } = deps;

  function safely<A extends unknown[]>(event: string, listener: (...args: A) => void) {
    return (...args: A) => {
      try {
        listener(...args);
      } catch (error) {
        logger.warn({ err: error, event }, 'observing an engine event failed');
      }
    };
  }

  provider.on(
    'grant.success',
    safely('grant.success', (ctx: KoaContextWithOIDC) => {
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
    safely('grant.revoked', (ctx: KoaContextWithOIDC, grantId: string) => {
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

  // Introspection has no success event either: count results as the response leaves.
  if (!metrics) return;
  provider.use(async (ctx, next) => {
    await next();
    const oidc = (ctx as Partial<KoaContextWithOIDC>).oidc;
    if (oidc?.route !== 'introspection') return;
    const body = ctx.body as { active?: unknown } | undefined;
    const result = ctx.status >= 400 ? 'error' : body?.active === true ? 'active' : 'inactive';
    metrics.introspections.inc({ result });
  });
}
