import type { Middleware } from 'koa';
import { routedPath } from '../http/index.ts';

// Cheap refusals of requests nobody should send, before any body is read:
// - a method no route here serves (TRACE, CONNECT): 405 (not the routers' 501: a client's
//   mistake is never a server error);
// - larger than `maxBytes` by their Content-Length: 413 (the engine would read 56 kB and
//   then answer 400; our forms stop at 16 kB);
// - a body in anything but form encoding to the engine's endpoints: 415 (OAuth and OpenID
//   endpoints take application/x-www-form-urlencoded; our own routes judge their own), and
//   in anything but JSON to the client registration endpoint and its client URIs (RFC 7591
//   section 3, RFC 7592 section 2.2).
// Both answer through the error handler, in JSON or as a page, never a stack.

export interface RequestLimitOptions {
  readonly maxBytes: number;
  /** Path prefixes whose routes check content types themselves. */
  readonly ownRoutes: readonly string[];
  /** The engine's endpoints that take JSON (client registration, with CLIENT_REGISTRATION): the path and everything under it. */
  readonly jsonRoutes?: readonly string[] | undefined;
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export function limitRequestBodies(options: RequestLimitOptions): Middleware {
  return async (ctx, next) => {
    if (!METHODS.has(ctx.method)) {
      ctx.set('Allow', 'GET, HEAD, POST, DELETE, OPTIONS');
      ctx.throw(405, `${ctx.method.slice(0, 16)} is not served here`);
    }
    const length = ctx.get('Content-Length');
    const chunked = ctx.get('Transfer-Encoding') !== '';
    if (length === '' && !chunked) {
      await next();
      return;
    }
    if (length !== '' && !(Number(length) <= options.maxBytes)) {
      ctx.throw(413, `request bodies are limited to ${Math.floor(options.maxBytes / 1024)} kB`);
    }
    const hasBody = chunked || Number(length) > 0;
    const path = routedPath(ctx.path);
    const own = options.ownRoutes.some((prefix) => path.startsWith(prefix));
    const json = options.jsonRoutes?.some((route) => path === route || path.startsWith(`${route}/`)) ?? false;
    if (hasBody && json && ctx.is('application/json') === false) {
      ctx.throw(415, 'request bodies must be application/json');
    }
    if (hasBody && !own && !json && ctx.is('application/x-www-form-urlencoded') === false) {
      ctx.throw(415, 'request bodies must be application/x-www-form-urlencoded');
    }
    await next();
  };
}
