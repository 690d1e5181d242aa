import type { Middleware } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';

/**
 * RFC 7009 §2.2: a revocation is answered 200 and the client ignores the body. The engine
 * sends an empty one without a Content-Type, which strict JSON clients refuse (simple-oauth2
 * over hapi's Wreck fails its revoke() with "content-type is not JSON compatible"), so the
 * 200 carries an empty JSON object instead. Errors keep their own JSON body.
 */
export function answerRevocationInJson(): Middleware {
  return async (ctx, next) => {
    await next();
    if ((ctx as Partial<KoaContextWithOIDC>).oidc?.route !== 'revocation' || ctx.status !== 200) return;
    if (ctx.body === undefined || ctx.body === null || ctx.body === '') ctx.body = {};
  };
}
