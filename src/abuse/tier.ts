import type { Context } from 'koa';
import ratelimit from 'koa-ratelimit';

import type { RateLimitBudget, RateLimitTier } from '../config/index.ts';
import { requestFacts, type AuditSink } from '../audit/index.ts';
import type { Logger, Metrics } from '../observability/index.ts';
import { BoundedMap, type LimitBackend } from './limit-backend.ts';
import { redisReady } from './redis.ts';
import type { RefusalMemo } from './repeat-refusals.ts';
import type { AppliedLimit } from './too-many-requests.ts';
import { boundedCache } from './bounded-cache.ts';

// One request budget (a tier) over koa-ratelimit, memory or Redis: `max` requests per
// `window` for one key. Spending reports the budget as it applied (for the RateLimit
// fields); the first refusal of a key in a window is an audit event, every one a metric,
// and a refused key is remembered for the repeat-refusal gate until its budget refills.

/**
 * Spends one request of `key`'s budget. With Redis away: spent from this instance's memory
 * instead (REDIS_UNAVAILABLE=memory), or `unavailable` (=closed: the caller answers 503).
 * Undefined only when the memory store itself fails (fail open, logged).
 * `served`: the request was already answered (a budget spent after the engine decided):
 * it is never refused, but the key is remembered as refused once its budget is out.
 */
export type Consume = (
  ctx: Context,
  key: string,
  served?: boolean,
) => Promise<{ limited: boolean; applied: AppliedLimit; unavailable?: undefined } | { unavailable: true } | undefined>;

/** What a client is told to wait while Redis is away and budgets fail closed. */
export const REDIS_RETRY_AFTER_SECONDS = 5;

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

type TierStore = ReturnType<typeof tierStore>;

export function createTiers(deps: TierDeps) {
  const { backend } = deps;
  const store = tierStore(backend);
  // With Redis and REDIS_UNAVAILABLE=memory: where budgets are spent while Redis is away.
  const fallback: TierStore | undefined =
    backend.kind === 'redis' && backend.whenUnavailable === 'memory' ? tierStore({ kind: 'memory', maxKeys: backend.maxKeys, maxBlocked: backend.maxBlocked }) : undefined;
  const redisAway = () => backend.kind === 'redis' && !redisReady(backend.client);
  let lastFailureLog = 0;

  function removePrivateHeaders(ctx: Context): void {
    ctx.remove(REMAINING);
    ctx.remove(RESET);
    ctx.remove(TOTAL);
  }

  return function tier(name: RateLimitTier, budget: RateLimitBudget | undefined): Consume | undefined {
    if (!budget) return undefined;
    const windowMs = budget.windowSeconds * 1000;
    const limiterOver = (over: TierStore) =>
      ratelimit({
        driver: over.driver,
        db: over.db,
        namespace: `${over.namespace}${name}`,
        duration: windowMs,
        max: budget.max,
        id: (ctx) => (ctx.state as { [KEY]?: string })[KEY] ?? false,
        headers: { remaining: REMAINING, reset: RESET, total: TOTAL },
        errorMessage: 'rate limited',
      });
    const primary = { store, limiter: limiterOver(store) };
    const secondary = fallback && { store: fallback, limiter: limiterOver(fallback) };
    /** The memory store failed (a bug, not an outage): let the request through rather than refuse everyone. */
    function failedOpen(error: unknown): undefined {
      if (Date.now() - lastFailureLog > 10_000) {
        lastFailureLog = Date.now();
        deps.logger.error({ err: error, tier: name }, 'rate limit store failed: the request was let through');
      }
      return undefined;
    }
    // The first refusal of a key in a window is an audit event; the rest are only counted.
    const reported = boundedCache<string, true>(10_000, { ttl: windowMs });
    const policy = `"${name}";q=${budget.max};w=${budget.windowSeconds}`;
    const counted = deps.metrics?.rateLimited.labels({ tier: name });

    return async (ctx, key, served = false) => {
      (ctx.state as { [KEY]?: string })[KEY] = key;
      let passed = false;
      const spend = async (limiter: typeof primary.limiter) => {
        passed = false;
        await limiter(ctx, () => {
          passed = true;
          return Promise.resolve();
        });
      };
      // Redis known to be away: memory at once, or closed; no command is even tried.
      let used = redisAway() ? secondary : primary;
      if (!used) return { unavailable: true };
      try {
        await spend(used.limiter);
      } catch (error) {
        removePrivateHeaders(ctx);
        if (used === primary && backend.kind === 'redis') {
          // A Redis command failed or timed out: the same as Redis away.
          if (!secondary) return { unavailable: true };
          used = secondary;
          try {
            await spend(used.limiter);
          } catch (memoryError) {
            return failedOpen(memoryError);
          }
        } else {
          return failedOpen(error);
        }
      }
      const usedStore = used.store;
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
        if (usedStore.driver === 'memory') usedStore.db.protect(`${usedStore.namespace}${name}:${key}`);
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
