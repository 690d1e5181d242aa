import type { Context, Middleware } from 'koa';
import ratelimit from 'koa-ratelimit';
import { LRUCache } from 'lru-cache';

import type { RateLimitBudget, RateLimitTier } from '../config/index.ts';
import { requestFacts, type AuditSink } from '../observability/audit-sink.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { BoundedMap, type LimitBackend } from './limit-store.ts';
import { addressKey, basicClientId } from './rate-limit-keys.ts';
import {
  JSON_ONLY,
  noteAppliedLimit,
  RATE_LIMITED_ERROR,
  sendTooManyRequests,
  withWait,
  type AppliedLimit,
  type RefusalOptions,
} from './rate-limit-response.ts';

// Request budgets, with koa-ratelimit (memory or Redis drivers). Every tier is a budget of
// `max` requests per `window` for one key:
//
//   ip             every request                                   per client address
//   login          POST /interaction/:uid/login                    per client address
//   token          POST /token                                     per client address
//   introspection  POST /token/introspection                       per client address
//   revocation     POST /token/revocation                          per client address
//   api            /api/*                                          per client address
//   client         POST /token, /token/introspection, /revocation  per client id (HTTP Basic)
//   account        /api/* once the access token is verified         per account (token sub)
//
// Everything but `account` is decided from the path, the address and the Authorization
// header alone, before any body is read, any database is asked or any hash is computed.
// The client id is read from Basic auth before the engine checks the secret, so a request
// with a wrong secret spends from that client's budget too (guessing is also throttled per
// address by the failed-authentication throttle, which runs first).

export interface RateLimitDeps {
  readonly tiers: Readonly<Record<RateLimitTier, RateLimitBudget | undefined>>;
  readonly backend: LimitBackend;
  readonly logger: Logger;
  readonly refusal: RefusalOptions;
  /** One `rate_limit.blocked` event per key and window, when a key first runs out. */
  readonly audit?: AuditSink | undefined;
  readonly metrics?: Pick<Metrics, 'rateLimited'> | undefined;
  /** The engine's endpoint paths (provider.pathFor). */
  readonly paths: { readonly token: string; readonly introspection: string; readonly revocation: string };
}

export interface RateLimits {
  /**
   * Repeat refusals, answered first of all: a key a budget refused stays refused until its
   * budget refills, and further requests from it get a lean JSON 429 here, before request
   * ids, logs and headers are made (counted in portcullis_rate_limited_total; the first
   * refusal of each key and window took the full path, so it is logged and audited).
   * A browser asking for a page gets a static one; a registered origin may read the answer.
   */
  readonly repeatRefusals: Middleware;
  /** `ip` and the per-address endpoint budgets: mount before anything that costs. */
  readonly requests: Middleware;
  /** `client`: mount in front of the engine, after the failed-authentication throttle. */
  readonly clients: Middleware;
  /** `account`: runs after require-access-token on each /api route. */
  readonly accounts: Middleware;
}

type Consume = (ctx: Context, key: string) => Promise<{ limited: boolean; applied: AppliedLimit } | undefined>;

// koa-ratelimit reports a budget through response headers; these private names carry it to
// us and are removed at once (clients get the IETF RateLimit fields instead).
const REMAINING = 'x-portcullis-rl-remaining';
const RESET = 'x-portcullis-rl-reset';
const TOTAL = 'x-portcullis-rl-total';
const KEY = Symbol('portcullis.rateLimitKey');

/** The browser hardening of the repeat-refusal page (the page has no script, no inline style). */
const STATIC_PAGE_HEADERS = {
  'Content-Security-Policy': "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

export function createRateLimits(deps: RateLimitDeps): RateLimits {
  const { backend, logger } = deps;
  /** Keys a budget refused, until it refills (for repeatRefusals). Local to this instance. */
  let refusalPage: string | undefined;
  const refused = new LRUCache<string, { tier: RateLimitTier; policy: string; until: number; counted: { inc(): void } | undefined }>({ max: 50_000 });
  // One store for every tier; keys are namespaced by tier.
  const store =
    backend.kind === 'redis'
      ? { driver: 'redis' as const, db: backend.client, namespace: `${backend.keyPrefix}rl:` }
      : { driver: 'memory' as const, db: new BoundedMap(backend.maxKeys), namespace: 'rl:' };
  let lastFailureLog = 0;

  function tier(name: RateLimitTier): Consume | undefined {
    const budget = deps.tiers[name];
    if (!budget) return undefined;
    const windowMs = budget.windowSeconds * 1000;
    const limiter = ratelimit({
      driver: store.driver,
      db: store.db,
      namespace: `${store.namespace}${name}`,
      duration: windowMs,
      max: budget.max,
      id: (ctx) => (ctx.state as { [KEY]?: string })[KEY] ?? false,
      headers: { remaining: REMAINING, reset: RESET, total: TOTAL },
      errorMessage: 'rate limited',
    });
    // The first refusal of a key in a window is an audit event; the rest are only counted.
    const reported = new LRUCache<string, true>({ max: 10_000, ttl: windowMs });
    const policy = `"${name}";q=${budget.max};w=${budget.windowSeconds}`;
    const counted = deps.metrics?.rateLimited.labels({ tier: name });

    return async (ctx, key) => {
      (ctx.state as { [KEY]?: string })[KEY] = key;
      let passed = false;
      try {
        await limiter(ctx, () => {
          passed = true;
          return Promise.resolve();
        });
      } catch (error) {
        // The shared store is away: let the request through rather than refuse everyone.
        ctx.remove(REMAINING);
        ctx.remove(RESET);
        ctx.remove(TOTAL);
        if (Date.now() - lastFailureLog > 10_000) {
          lastFailureLog = Date.now();
          logger.error({ err: error, tier: name }, 'rate limit store failed: the request was let through');
        }
        return undefined;
      }
      const remaining = Number(ctx.response.get(REMAINING)) || 0;
      const reset = Number(ctx.response.get(RESET));
      ctx.remove(REMAINING);
      ctx.remove(RESET);
      ctx.remove(TOTAL);
      // (The drivers keep their own high-resolution clocks: never report more than a window.)
      const resetSeconds = Math.min(budget.windowSeconds, Math.max(0, Math.ceil(reset - Date.now() / 1000)));
      const applied = { policy: name, quota: budget.max, windowSeconds: budget.windowSeconds, resetSeconds };
      if (passed) return { limited: false, applied: { ...applied, remaining } };
      counted?.inc();
      if (resetSeconds > 0) refused.set(`${name}|${key}`, { tier: name, policy, until: Date.now() + resetSeconds * 1000, counted }, { ttl: resetSeconds * 1000 });
      if (!reported.has(key)) {
        reported.set(key, true);
        deps.audit?.record({
          type: 'rate_limit.blocked',
          ...requestFacts(ctx),
          ...(name === 'client' && { clientId: key }),
          ...(name === 'account' && !key.startsWith('client:') && { accountId: key }),
          data: { tier: name, limit: budget.max, windowSeconds: budget.windowSeconds },
        });
      }
      return { limited: true, applied: { ...applied, remaining: 0 } };
    };
  }

  const ip = tier('ip');
  const login = tier('login');
  const token = tier('token');
  const introspection = tier('introspection');
  const revocation = tier('revocation');
  const api = tier('api');
  const client = tier('client');
  const account = tier('account');

  const loginPath = /^\/interaction\/[^/]+\/login$/;
  const { paths } = deps;

  const scopedTiers = { api, token, introspection, revocation, login } as const;

  /** The endpoint budget of a request, if its endpoint has one. */
  function scoped(ctx: Context): keyof typeof scopedTiers | undefined {
    const path = ctx.path;
    if (path === '/api' || path.startsWith('/api/')) return 'api';
    if (ctx.method !== 'POST') return undefined;
    if (path === paths.token) return 'token';
    if (path === paths.introspection) return 'introspection';
    if (path === paths.revocation) return 'revocation';
    if (loginPath.test(path)) return 'login';
    return undefined;
  }

  /** Spends from each budget in turn; the first one that is out answers 429. */
  async function spend(ctx: Context, steps: ReadonlyArray<readonly [Consume | undefined, string]>): Promise<boolean> {
    for (const [consume, key] of steps) {
      if (!consume) continue;
      const outcome = await consume(ctx, key);
      if (!outcome) continue;
      noteAppliedLimit(ctx, outcome.applied);
      if (outcome.limited) {
        await sendTooManyRequests(ctx, deps.refusal, {
          retryAfterSeconds: outcome.applied.resetSeconds,
          message: 'Too many requests.',
        });
        return false;
      }
    }
    return true;
  }

  const tokenPaths = new Set([paths.token, paths.introspection, paths.revocation]);


  return {
    async repeatRefusals(ctx, next) {
      if (refused.size === 0) {
        await next();
        return;
      }
      const address = addressKey(ctx.ip) || 'unknown';
      const endpoint = scoped(ctx);
      const id = endpoint && endpoint !== 'api' && endpoint !== 'login' ? basicClientId(ctx.get('Authorization')) : undefined;
      const hit = refused.get(`ip|${address}`) ?? (endpoint && refused.get(`${endpoint}|${address}`)) ?? (id && refused.get(`client|${id}`));
      const wait = hit ? Math.ceil((hit.until - Date.now()) / 1000) : 0;
      if (!hit || wait <= 0) {
        await next();
        return;
      }
      hit.counted?.inc();
      ctx.status = 429;
      ctx.set('Retry-After', String(wait));
      ctx.set('RateLimit-Policy', hit.policy);
      ctx.set('RateLimit', `"${hit.tier}";r=0;t=${wait}`);
      ctx.set('Cache-Control', 'no-store');
      ctx.vary('Origin');
      const origin = ctx.get('Origin');
      if (origin && deps.refusal.allowOrigin && (await deps.refusal.allowOrigin(origin))) {
        ctx.set('Access-Control-Allow-Origin', origin);
        ctx.set('Access-Control-Expose-Headers', 'Retry-After, RateLimit, RateLimit-Policy');
      }
      if (!JSON_ONLY.test(ctx.path) && ctx.get('Accept').includes('text/html')) {
        // A static page with static headers: no nonce, nothing inline to allow.
        ctx.set(STATIC_PAGE_HEADERS);
        if (deps.refusal.hsts) ctx.set('Strict-Transport-Security', 'max-age=31536000; includeSubDomains');
        ctx.set('Content-Type', 'text/html; charset=utf-8');
        ctx.body = (refusalPage ??= deps.refusal.renderPage({ status: 429, error: RATE_LIMITED_ERROR, message: 'Too many requests from your network. Wait a minute, then try again.', requestId: '' }));
        return;
      }
      ctx.set('Content-Type', 'application/json; charset=utf-8');
      ctx.body = JSON.stringify({ error: RATE_LIMITED_ERROR, error_description: withWait('Too many requests.', wait) });
    },
    async requests(ctx, next) {
      const address = addressKey(ctx.ip) || 'unknown';
      const endpoint = scoped(ctx);
      if (await spend(ctx, [[ip, address], [endpoint && scopedTiers[endpoint], address]])) await next();
    },
    async clients(ctx, next) {
      const id = client && ctx.method === 'POST' && tokenPaths.has(ctx.path) ? basicClientId(ctx.get('Authorization')) : undefined;
      if (!id || (await spend(ctx, [[client, id]]))) await next();
    },
    async accounts(ctx, next) {
      const token = (ctx.state as { accessToken?: { sub?: string | undefined; clientId: string } }).accessToken;
      const key = token?.sub ?? (token ? `client:${token.clientId}` : undefined);
      if (!key || (await spend(ctx, [[account, key]]))) await next();
    },
  };
}
