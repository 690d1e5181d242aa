import type { Middleware } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';

/**
 * Discovery changes only when the deployment's configuration does: five minutes keeps the
 * start of every client cheap while a change (a new endpoint, a grant type switched off) is
 * seen everywhere soon after.
 */
export const DISCOVERY_MAX_AGE_SECONDS = 300;

/**
 * How long a resource server or client may keep the JWKS without asking again. It is also
 * the promise key rotation must keep: a new key is published at least this long before it
 * signs anything, and a retired key stays published at least this long plus the longest
 * token lifetime after its last signature. Ten minutes is also the default cache age of
 * jose's createRemoteJWKSet, what most Node resource servers use, so the two agree; a
 * compromised key withdrawn from the JWKS is trusted by caches for at most this long.
 */
export const JWKS_MAX_AGE_SECONDS = 600;

const CACHE_CONTROL: Readonly<Record<string, string>> = {
  discovery: `public, max-age=${DISCOVERY_MAX_AGE_SECONDS}`,
  jwks: `public, max-age=${JWKS_MAX_AGE_SECONDS}`,
};

/**
 * Explicit caching for the two documents everyone fetches and nobody's request changes
 * (their URLs are the issuer's: http/pin-issuer-origin.ts). Only successful answers: an
 * error is never cached.
 */
export function cachePublishedMetadata(): Middleware {
  return async (ctx, next) => {
    await next();
    const route = (ctx as Partial<KoaContextWithOIDC>).oidc?.route;
    const cacheControl = route === undefined ? undefined : CACHE_CONTROL[route];
    if (cacheControl && ctx.status === 200) ctx.set('Cache-Control', cacheControl);
  };
}
