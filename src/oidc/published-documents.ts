import type { Middleware } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';

/**
 * Discovery changes only when the deployment's configuration does: five minutes keeps the
 * start of every client cheap while a change (a new endpoint, a grant type switched off) is
 * seen everywhere soon after.
 */
export const DISCOVERY_MAX_AGE_SECONDS = 300;

/** One of the engine's published documents, as it last answered it. */
interface PublishedDocument {
  readonly route: string;
  readonly type: string;
  readonly cacheControl: string;
  readonly body: string;
}

/**
 * The documents everyone fetches and nobody's request changes: discovery (both of its
 * well-known paths) and the JWKS. Their URLs are the issuer's whatever the request said
 * (http/pin-issuer-origin.ts), and an engine's keys and configuration never change after it
 * is built (a key change builds a new engine: live-provider.ts). So each engine answers
 * each document once, through its own code, and every later request for it is answered
 * from that copy by `answer`, before the engine and the middleware meant for clients: the
 * engine computing and serialising the same JSON again was most of their cost.
 */
export interface PublishedDocuments {
  /**
   * Engine middleware (create-provider.ts): sets explicit caching on the documents'
   * successful answers and keeps a copy of each.
   *
   * `jwksMaxAge` (JWKS_MAX_AGE, default 600 s) is how long a resource server or client may
   * keep the JWKS without asking again, and the promise key rotation keeps: a new key is
   * published longer than this before it signs anything (KEY_ANNOUNCE_DELAY, checked at
   * start to exceed it). Ten minutes is also the default cache age of jose's
   * createRemoteJWKSet, what most Node resource servers use, so the two agree; a
   * compromised key withdrawn from the JWKS is trusted by caches for at most this long.
   */
  readonly record: Middleware;
  /**
   * App middleware: answers a plain GET of a document this engine already answered, as it
   * answered it. Anything else (another method, a cross-origin request, whose CORS headers
   * the engine and enforceProviderCors decide, a document not yet answered) goes on.
   */
  readonly answer: Middleware;
}

/** Discovery's two paths: fixed by RFC 8414 and OpenID Connect Discovery, served by the engine at both. */
const DISCOVERY_PATHS = ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server'];

export function createPublishedDocuments(options: { jwksMaxAge: number; jwksPath: string }): PublishedDocuments {
  const cacheControl: Readonly<Record<string, string>> = {
    discovery: `public, max-age=${DISCOVERY_MAX_AGE_SECONDS}`,
    jwks: `public, max-age=${options.jwksMaxAge}`,
  };
  const copies = new Map<string, PublishedDocument>();
  // Copies only for the documents' own paths, exactly. The engine also answers `/JWKS` or
  // `/jwks/` (its router ignores case and one trailing slash): kept under their own path,
  // each such variant was one more copy, without end. They go to the engine, uncopied.
  const copied = new Set([...DISCOVERY_PATHS, options.jwksPath]);

  return {
    async record(ctx, next) {
      await next();
      const route = (ctx as Partial<KoaContextWithOIDC>).oidc?.route;
      const value = route === undefined ? undefined : cacheControl[route];
      // Only successful answers: an error is never cached, here or by anyone downstream.
      if (!route || !value || ctx.status !== 200) return;
      ctx.set('Cache-Control', value);
      // A copy only of what a plain GET got: a cross-origin request's answer carries CORS
      // headers for its origin; a body already streamed or sent cannot be read back.
      if (ctx.method !== 'GET' || ctx.get('Origin') || ctx.headerSent || !copied.has(ctx.path) || copies.has(ctx.path)) return;
      const body: unknown = ctx.body;
      if (body === null || typeof body !== 'object' || Buffer.isBuffer(body) || 'pipe' in body) return;
      const json = JSON.stringify(body);
      const type = ctx.response.get('Content-Type');
      ctx.body = json; // serialised once, for this answer and every copy of it
      ctx.type = type;
      copies.set(ctx.path, { route, type, cacheControl: value, body: json });
    },

    async answer(ctx, next) {
      const copy = ctx.method === 'GET' && !ctx.get('Origin') ? copies.get(ctx.path) : undefined;
      if (!copy) {
        await next();
        return;
      }
      ctx.state.route = copy.route; // how logs and metrics name it (http/route-label.ts)
      ctx.status = 200;
      ctx.type = copy.type;
      ctx.set('Cache-Control', copy.cacheControl);
      // As the engine's CORS helper marks every answer of these routes.
      ctx.vary('Origin');
      ctx.body = copy.body;
    },
  };
}
