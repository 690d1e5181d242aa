import type { Context } from 'koa';
import ratelimit from 'koa-ratelimit';
import { LRUCache } from 'lru-cache';

import type { RateLimitBudget, RateLimitTier } from '../config/index.ts';
import { requestFacts, type AuditSink } from '../audit/index.ts';
import type { Logger, Metrics } from '../observability/index.ts';
import { BoundedMap, type LimitBackend } from './limit-backend.ts';
import type { RefusalMemo } from './repeat-refusals.ts';
import type { AppliedLimit } from './too-many-requests.ts';

// One request budget (a tier) over koa-ratelimit, memory or Redis: `max` requests per
// `window` for one key. Spending reports the budget as it applied (for the RateLimit
// fields); the first refusal of a key in a window is an audit event, every one a metric,
// and a refused key is remembered for the repeat-refusal gate until its budget refills.

/**
 * Spends one request of `key`'s budget; undefined when the store is away (fail open).
 * `served`: the request was already answered (a budget spent after the engine decided):
 * it is never refused, but the key is remembered as refused once its budget is out.
 */
export type Consume = (ctx: Context, key: string, served?: boolean) => Promise<{ limited: boolean; applied: AppliedLimit } | undefined>;

// koa-ratelimit reports a budget through response headers; these private names carry it to
// us and are removed at once (clients get the IETF RateLimit fields instead).
const REMAINING = 'x-portcullis-rl-remaining';
const RESET = 'x-portcullis-rl-reset';
const TOTAL = 'x-portcullis-rl-total';
const KEY = Symbol('portcullis.rateLimitKey');

export interface TierDeps {
  readonly backend: LimitBackend;
  readonly logger: Logger;
  readonly refused: RefusalMemo;
  /** One `rate_limit.blocked` event per key and window, when a key first runs out. */
  readonly audit?: AuditSink | undefined;
  readonly metrics?: Pick<Metrics, 'rateLimited'> | undefined;
}

/** The one store every tier of an app shares; keys are namespaced by tier. */
export function tierStore(backend: LimitBackend) {
  return backend.kind === 'redis'
    ? { driver: 'redis' as const, db: backend.client, namespace: `${backend.keyPrefix}rl:` }
    : { driver: 'memory' as const, db: new BoundedMap(backend.maxKeys, backend.maxBlocked), namespace: 'rl:' };
}

export function createTiers(deps: TierDeps) {
  const store = tierStore(deps.backend);
  let lastFailureLog = 0;

  function removePrivateHeaders(ctx: Context): void {
    ctx.remove(REMAINING);
    ctx.remove(RESET);
    ctx.remove(TOTAL);
  }

  return function tier(name: RateLimitTier, budget: RateLimitBudget | undefined): Consume | undefined {
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

    return async (ctx, key, served = false) => {
      (ctx.state as { [KEY]?: string })[KEY] = key;
      let passed = false;
      try {
        await limiter(ctx, () => {
          passed = true;
          return Promise.resolve();
        });
      } catch (error) {
        // The shared store is away: let the request through rather than refuse everyone.
        removePrivateHeaders(ctx);
        if (Date.now() - lastFailureLog > 10_000) {
          lastFailureLog = Date.now();
          deps.logger.error({ err: error, tier: name }, 'rate limit store failed: the request was let through');
        }
        return undefined;
      }
      const remaining = Number(ctx.response.get(REMAINING)) || 0;
      const reset = Number(ctx.response.get(RESET));
      removePrivateHeaders(ctx);
      // (The drivers keep their own high-resolution clocks: never report more than a window.)
      const resetSeconds = Math.min(budget.windowSeconds, Math.max(0, Math.ceil(reset - Date.now() / 1000)));
      const applied = { policy: name, quota: budget.max, windowSeconds: budget.windowSeconds, resetSeconds };
      const out = !passed || (served && remaining === 0);
      if (!out) return { limited: false, applied: { ...applied, remaining } };
      if (!served) counted?.inc();
      const until = Date.now() + resetSeconds * 1000;
      if (resetSeconds > 0) {
        deps.refused.note(name, key, { policy, until, counted });
        // Memory: a refused key is kept apart, so a flood of fresh keys cannot push it out.
        if (store.driver === 'memory') store.db.protect(`${store.namespace}${name}:${key}`);
      }
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
      if (served) return { limited: false, applied: { ...applied, remaining: 0 } };
      return { limited: true, applied: { ...applied, remaining: 0 } };
    };
  };
}
