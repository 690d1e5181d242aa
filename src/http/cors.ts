import cors from '@koa/cors';
import type { Context, Middleware } from 'koa';
import { routedPath } from './routed-path.ts';

// Cross-origin access, only for the origins registered on clients (portcullis_cors_origins).
//
// The engine's own CORS (clientBasedCORS in oidc-provider-config) decides for requests of a
// known client. What it cannot decide, we do after it answered (enforceProviderCors):
//   - it sends `Access-Control-Allow-Origin: *` when a request has no Origin at all (its
//     CORS helper falls back to "*"). Not a cross-origin request, so nothing to allow:
//     removed.
//   - preflights (no client yet), discovery and JWKS (no client ever), and client
//     endpoints whose client authentication failed: it echoes any Origin. We keep the
//     echo only for an origin registered on some client.
// Our own API (/api/*) uses @koa/cors with the same allowlist. Credentials (cookies) are
// never allowed cross-origin; access tokens travel in the Authorization header, DPoP
// proofs in the DPoP header.

export interface OriginAllowlist {
  /** Whether some registered client lists this exact origin. */
  has(origin: string): Promise<boolean>;
}

export interface OriginAllowlistOptions {
  /** Every origin registered on any client. */
  readonly load: () => Promise<Iterable<string>>;
  /** The list is reloaded at least this often (a removed origin stops working within it). */
  readonly maxAgeMs?: number;
  /** An unknown origin reloads the list, at most this often (a new origin works within it). */
  readonly missRefreshMs?: number;
  readonly now?: () => number;
}

/**
 * The union of registered origins, kept in memory: a known origin costs a Set lookup; an
 * unknown one costs at most one reload per `missRefreshMs`, however many arrive (one
 * reload at a time, shared by every waiting request).
 */
export function createOriginAllowlist(options: OriginAllowlistOptions): OriginAllowlist {
  const maxAgeMs = options.maxAgeMs ?? 60_000;
  const missRefreshMs = options.missRefreshMs ?? 5_000;
  const now = options.now ?? Date.now;
  let origins: ReadonlySet<string> | undefined;
  let loadedAt = 0;
  let loading: Promise<void> | undefined;

  function reload(): Promise<void> {
    loading ??= options
      .load()
      .then((list) => {
        origins = new Set(list);
        loadedAt = now();
      })
      .finally(() => {
        loading = undefined;
      });
    return loading;
  }

  return {
    async has(origin) {
      if (!origin || origin === 'null' || origin.length > 2048) return false;
      const age = now() - loadedAt;
      if (!origins || age > maxAgeMs || (!origins.has(origin) && age > missRefreshMs)) {
        try {
          await reload();
        } catch {
          // The registry is unreachable: answer from the last list we had (or refuse).
        }
      }
      return origins?.has(origin) ?? false;
    },
  };
}

const ACCESS_CONTROL = [
  'Access-Control-Allow-Origin',
  'Access-Control-Allow-Credentials',
  'Access-Control-Allow-Methods',
  'Access-Control-Allow-Headers',
  'Access-Control-Expose-Headers',
  'Access-Control-Max-Age',
];

interface EngineClient {
  readonly portcullis_cors_origins?: readonly string[];
}

/**
 * Runs around the engine (mounted right before it) and only ever removes CORS headers it
 * set: a response carries Access-Control-Allow-Origin only for an Origin registered on the
 * calling client, or, where no client is known, on some client.
 */
export function enforceProviderCors(options: { allowlist: OriginAllowlist }): Middleware {
  return async (ctx, next) => {
    await next();
    const allowed = ctx.response.get('Access-Control-Allow-Origin');
    if (!allowed) return;
    const origin = ctx.get('Origin');
    let keep = false;
    if (origin && allowed === origin && ctx.response.get('Access-Control-Allow-Credentials') !== 'true') {
      const client = engineClient(ctx);
      keep = client ? (client.portcullis_cors_origins?.includes(origin) ?? false) : await options.allowlist.has(origin);
    }
    if (!keep) for (const name of ACCESS_CONTROL) ctx.remove(name);
    ctx.vary('Origin');
  };
}

function engineClient(ctx: Context): EngineClient | undefined {
  const oidc = (ctx as { oidc?: { client?: EngineClient } }).oidc;
  return oidc?.client;
}

/**
 * CORS for our own API: registered origins only, no credentials, the methods and headers
 * the API uses, and the headers a browser app needs to read (WWW-Authenticate, limits).
 * The same policy, GET only and no request headers, for the API's metadata (RFC 9728).
 */
export function apiCors(options: { allowlist: OriginAllowlist; prefix: string; readOnly?: boolean }): Middleware {
  const { prefix } = options;
  const handle = cors({
    origin: async (ctx) => {
      const origin = ctx.get('Origin');
      return (await options.allowlist.has(origin)) ? origin : '';
    },
    allowMethods: options.readOnly ? ['GET'] : ['GET', 'DELETE'],
    allowHeaders: options.readOnly ? [] : ['Authorization', 'DPoP'],
    exposeHeaders: ['WWW-Authenticate', 'Retry-After', 'RateLimit', 'RateLimit-Policy'],
    maxAge: 600,
    credentials: false,
  });
  // Only the API: in front of the engine it would pre-empt the engine's own CORS.
  return async (ctx, next) => {
    const path = routedPath(ctx.path);
    if (path === prefix || path.startsWith(`${prefix}/`)) await handle(ctx, next);
    else await next();
  };
}
