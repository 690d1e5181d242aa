import type { Context } from 'koa';

// How a request is named in logs and metrics: bounded, never the raw path (which carries
// interaction ids and, for a bad client, anything at all).

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export function methodLabel(method: string): string {
  return METHODS.has(method) ? method : 'OTHER';
}

/**
 * The engine's route name (`token`, `authorization`, `resume`, ...) when the provider
 * handled the request; else our router's matched pattern (`/interaction/:uid/login`);
 * else what a feature put in `ctx.state.route`; else `unmatched` for a 404 and `other`.
 * Read it after `await next()`: only then is the route known.
 */
export function routeLabel(ctx: Context): string {
  const oidc = (ctx as { oidc?: { route?: unknown } }).oidc;
  if (typeof oidc?.route === 'string') return oidc.route;
  const matched = (ctx as { _matchedRoute?: unknown })._matchedRoute;
  if (typeof matched === 'string' || matched instanceof RegExp) return String(matched);
  if (typeof ctx.state.route === 'string') return ctx.state.route;
  return ctx.status === 404 ? 'unmatched' : 'other';
}
