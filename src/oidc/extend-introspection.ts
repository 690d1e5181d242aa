import type { Middleware } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';

import { CLIENT_GENERATION_CLAIM, type AccessTokenVerifier, type VerifiedAccessToken } from './access-token-verifier.ts';
import type { PortcullisClientFields } from './client-metadata.ts';
import { engineAnswer } from './engine-answer.ts';

type Client = NonNullable<KoaContextWithOIDC['oidc']['client']> & Partial<PortcullisClientFields>;

/**
 * Who may see a token's facts: the client it was issued to, or a resource-server client
 * that serves one of its audiences. Everyone else learns only `active: false`.
 */
export function mayIntrospect(client: Client, token: { clientId?: string | undefined; aud?: unknown }): boolean {
  if (token.clientId === client.clientId) return true;
  if (client.portcullis_type !== 'resource-server') return false;
  const audiences = Array.isArray(token.aud) ? (token.aud as unknown[]) : [token.aud];
  return audiences.some((aud) => typeof aud === 'string' && (client.portcullis_resources ?? []).includes(aud));
}

function introspectionBody(token: VerifiedAccessToken, issuer: string) {
  return {
    active: true,
    client_id: token.clientId,
    sub: token.sub,
    aud: token.aud.length === 1 ? token.aud[0] : token.aud,
    scope: token.scope || undefined,
    exp: token.exp,
    iat: token.iat,
    iss: issuer,
    jti: token.jti,
    // RFC 9449 section 6.2 and RFC 7662: a bound token says so, as the engine does for opaque ones.
    cnf: token.cnf,
    token_type: token.cnf?.jkt ? 'DPoP' : 'Bearer',
    // RFC 8693 section 4.4: who acts for the subject, on a token made by a token exchange.
    ...(token.act && { act: token.act }),
  };
}

/**
 * Runs after the engine's introspection endpoint and completes it for what the engine
 * cannot handle: JWT access tokens, which it refuses with `unsupported_token_type` once it
 * has authenticated the client. It also keeps refresh tokens' introspection free of a
 * token_type.
 */
export function extendIntrospection(deps: { verifier: AccessTokenVerifier; issuer: string }): Middleware {
  return async (koaCtx, next) => {
    await next();
    const answer = engineAnswer<{ active?: boolean; token_type?: string; error?: string }>(koaCtx, 'introspection');
    if (!answer) return;
    const { ctx, client, token, body, refusedJwt } = answer;

    if (refusedJwt) {
      const verified = await deps.verifier.verify(token);
      ctx.status = 200;
      ctx.body = verified && mayIntrospect(client, verified) ? introspectionBody(verified, deps.issuer) : { active: false };
    } else if (body?.active && ctx.oidc.entities.ClientCredentials) {
      // The engine knows nothing of token generations: an opaque client-credentials token
      // issued as its client's tokens were revoked must be as dead as a JWT would be. The
      // engine has loaded the token, and the client when it is the one asking.
      const found = ctx.oidc.entities.ClientCredentials;
      const current = found.clientId === client.clientId ? (client as Client).portcullis_token_generation : undefined;
      if (!(await deps.verifier.clientTokenLive(found.clientId!, found.extra?.[CLIENT_GENERATION_CLAIM], current))) ctx.body = { active: false };
    } else if (body?.active && ctx.oidc.entities.RefreshToken) {
      delete body.token_type; // RFC 7662 §2.2: a refresh token has no access-token type (RFC 6749 §7.1)
    }
  };
}
