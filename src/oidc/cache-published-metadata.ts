import type { Middleware } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';

/**
 * Discovery changes only when the deployment's configuration does: five minutes keeps the
 * start of every client cheap while a change (a new endpoint, a grant type switched off) is
 * seen everywhere soon after.
 */
export const DISCOVERY_MAX_AGE_SECONDS = 300;

/**
 * Explicit caching for the two documents everyone fetches and nobody's request changes
 * (their URLs are the issuer's: http/pin-issuer-origin.ts). Only successful answers: an
 * error is never cached.
 *
 * `jwksMaxAge` (JWKS_MAX_AGE, default 600 s) is how long a resource server or client may
 * keep the JWKS without asking again, and the promise key rotation keeps: a new key is
 * published longer than this before it signs anything (KEY_ANNOUNCE_DELAY, checked at start
 * to exceed it). Ten minutes is also the default cache age of jose's createRemoteJWKSet,
 * what most Node resource servers use, so the two agree; a compromised key withdrawn from
 * the JWKS is trusted by caches for at most this long.
 */
export function cachePublishedMetadata(options: { jwksMaxAge: number }): Middleware {
  const cacheControl: Readonly<Record<string, string>> = {
    discovery: `public, max-age=${DISCOVERY_MAX_AGE_SECONDS}`,
    jwks: `public, max-age=${options.jwksMaxAge}`,
  };
  return async (ctx, next) => {
    await next();
    const route = (ctx as Partial<KoaContextWithOIDC>).oidc?.route;
    const value = route === undefined ? undefined : cacheControl[route];
    if (value && ctx.status === 200) ctx.set('Cache-Control', value);
  };
}
