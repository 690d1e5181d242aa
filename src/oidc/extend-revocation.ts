import type { Middleware } from 'koa';

import { requestFacts, type AuditSink } from '../audit/index.ts';
import type { AccessTokenVerifier } from './access-token-verifier.ts';
import { engineAnswer } from './engine-answer.ts';

/**
 * Runs after the engine's revocation endpoint and completes it for what the engine cannot
 * handle: JWT access tokens, which it refuses with `unsupported_token_type` once it has
 * authenticated the client. Every revocation that took something away is audited.
 */
export function extendRevocation(deps: { verifier: AccessTokenVerifier; audit: AuditSink }): Middleware {
  return async (koaCtx, next) => {
    await next();
    const answer = engineAnswer(koaCtx, 'revocation');
    if (!answer) return;
    const { ctx, client, token, refusedJwt } = answer;

    let revokedJwt = false;
    if (refusedJwt) {
      // RFC 7009 section 2.1: another client's token is refused with an error, as the
      // engine's allowedPolicy does for opaque ones; an invalid or expired one is a 200.
      const outcome = await deps.verifier.revokeJwt(token, client.clientId);
      if (outcome === 'not_owner') {
        ctx.status = 400;
        ctx.body = { error: 'invalid_request', error_description: 'client is not authorized to revoke the presented token' };
        return;
      }
      ctx.status = 200;
      ctx.body = '';
      revokedJwt = outcome === 'revoked';
    }
    const engineRevoked = ctx.oidc.entities.AccessToken ?? ctx.oidc.entities.RefreshToken ?? ctx.oidc.entities.ClientCredentials;
    if (revokedJwt || engineRevoked) {
      deps.audit.record({
        type: 'token.revoked',
        actor: client.clientId,
        clientId: client.clientId,
        ...requestFacts(ctx),
        data: { tokenType: revokedJwt ? 'jwt_access_token' : engineRevoked?.kind },
      });
    }
  };
}
