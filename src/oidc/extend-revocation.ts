import type { Middleware } from 'koa';

import { requestFacts, type AuditSink } from '../audit/index.ts';
import type { AccessTokenVerifier } from './access-token-verifier.ts';
import { engineAnswer } from './engine-answer.ts';
import type { GrantStore } from './token-store.ts';

/**
 * Runs after the engine's revocation endpoint and completes it for what the engine cannot
 * handle: JWT access tokens, which it refuses with `unsupported_token_type` once it has
 * authenticated the client; and tokens of a grant type GRANT_TYPES turned off since they
 * were issued, which the engine no longer looks up (they would work again were it turned
 * back on). Every revocation that took something away is audited.
 */
export function extendRevocation(deps: {
  verifier: AccessTokenVerifier;
  audit: AuditSink;
  /** Token kinds whose grant type this deployment does not serve. */
  unserved?: { readonly refreshTokens: boolean; readonly clientCredentials: boolean };
  /** Revokes a refresh token's grant with it, and what was exchanged from a revoked access token. */
  grants: Pick<GrantStore, 'revokeGrants' | 'revokeExchangedFrom'>;
}): Middleware {
  return async (koaCtx, next) => {
    await next();
    const answer = engineAnswer(koaCtx, 'revocation');
    if (!answer) return;
    const { ctx, client, token, refusedJwt } = answer;

    let revokedJwt = false;
    let jwtGrantId: string | undefined;
    if (refusedJwt) {
      jwtGrantId = (await deps.verifier.verify(token))?.grantId;
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
    let engineRevoked = ctx.oidc.entities.AccessToken ?? ctx.oidc.entities.RefreshToken ?? ctx.oidc.entities.ClientCredentials;
    if (!refusedJwt && !engineRevoked && ctx.status === 200 && (deps.unserved?.refreshTokens || deps.unserved?.clientCredentials)) {
      const { provider } = ctx.oidc;
      const found = (deps.unserved.refreshTokens ? await provider.RefreshToken.find(token) : undefined) ?? (deps.unserved.clientCredentials ? await provider.ClientCredentials.find(token) : undefined);
      if (found && found.clientId !== client.clientId) {
        ctx.status = 400;
        ctx.body = { error: 'invalid_request', error_description: 'client is not authorized to revoke the presented token' };
        return;
      }
      if (found) {
        // As the engine revokes a refresh token: with its grant, and everything under it.
        await found.destroy();
        if ('grantId' in found && found.grantId) await deps.grants.revokeGrants([found.grantId]);
        engineRevoked = found;
      }
    }
    // The engine keeps a grant when one of its access tokens is revoked; what a client got by
    // exchanging tokens of that grant (token-exchange.ts) must not outlive the revocation.
    const revokedAccessGrant = revokedJwt ? jwtGrantId : engineRevoked?.kind === 'AccessToken' ? engineRevoked.grantId : undefined;
    if (revokedAccessGrant) await deps.grants.revokeExchangedFrom(revokedAccessGrant);
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
