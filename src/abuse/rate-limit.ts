import type { Context, Middleware } from 'koa';

import type { RateLimitBudget, RateLimitTier } from '../config/index.ts';
import type { AuditSink } from '../audit/index.ts';
import type { Logger, Metrics } from '../observability/index.ts';
import { addressKey } from './address-key.ts';
import { createClassifier, type EndpointPaths } from './classify.ts';
import { authenticatedClient } from './client-authentication.ts';
import { readClientClaim } from './client-credentials.ts';
import type { LimitBackend } from './limit-backend.ts';
import { createRefusalMemo, repeatRefusals } from './repeat-refusals.ts';
import { sendLimitsUnavailable } from './limits-unavailable.ts';
import { createTiers, REDIS_RETRY_AFTER_SECONDS, type Consume } from './tier.ts';
import { noteAppliedLimit, sendTooManyRequests, type RefusalOptions } from './too-many-requests.ts';
import { routedPath } from '../http/index.ts';

// Request budgets, with koa-ratelimit (memory or Redis drivers). Every tier is a budget of
// `max` requests per `window` for one key:
//
//   ip             every request                                   per client address
//   login          POST /interaction/:uid/login, password reset    per client address
//   token          POST /token                                     per client address
//   introspection  POST /token/introspection                       per client address
//   revocation     POST /token/revocation                          per client address
//   api            /api/*                                          per client address
//   registration   /reg, /reg/:id (client registration, RFC 7592)  per client address
//   client         every endpoint where clients authenticate       per authenticated client
//   account        /api/* once the access token is verified         per account (token sub)
//
// The per-address budgets are decided from the path and the address alone, before any body
// is read, any database is asked or any hash is computed. A client's budget is spent only
// once the engine authenticated it with its secret or key: someone who knows only a client
// id (a wrong secret, a malformed header) spends nothing of it, and is counted by address
// instead. A client that has spent its budget is refused by the id it claims, before the
// engine, until the budget refills. Public clients have no client budget: anyone can name
// them, so their traffic is counted by address.
//
// The stages: tier.ts (one budget over koa-ratelimit), classify.ts (path -> endpoint
// budget), repeat-refusals.ts (the lean gate in front of everything).

export interface RateLimitDeps {
  readonly tiers: Readonly<Record<RateLimitTier, RateLimitBudget | undefined>>;
  readonly backend: LimitBackend;
  readonly logger: Logger;
  readonly refusal: RefusalOptions;
  /** One `rate_limit.blocked` event per key and window, when a key first runs out. */
  readonly audit?: AuditSink | undefined;
  readonly metrics?: (Pick<Metrics, 'rateLimited'> & Partial<Pick<Metrics, 'unavailableResponses'>>) | undefined;
  readonly paths: EndpointPaths;
  /** The engine's endpoints where clients authenticate (provider.pathFor). */
  readonly clientPaths: ReadonlySet<string>;
}

export interface RateLimits {
  /** Repeat refusals of a key already over budget: first of all, a lean 429 (repeat-refusals.ts). */
  readonly repeatRefusals: Middleware;
  /** `ip` and the per-address endpoint budgets: mount before anything that costs. */
  readonly requests: Middleware;
  /** `client`: around the client-secret throttle, in front of the engine. */
  readonly clients: Middleware;
  /** `account`: runs after require-access-token on each /api route. */
  readonly accounts: Middleware;
}

export function createRateLimits(deps: RateLimitDeps): RateLimits {
  const refused = createRefusalMemo();
  const tier = createTiers({ ...deps, refused });
  const budget = (name: RateLimitTier) => tier(name, deps.tiers[name]);
  const ip = budget('ip');
  const client = budget('client');
  const account = budget('account');
  const endpoints = {
    api: budget('api'),
    token: budget('token'),
    introspection: budget('introspection'),
    revocation: budget('revocation'),
    login: budget('login'),
    registration: budget('registration'),
  } as const;
  const classify = createClassifier(deps.paths);

  /** Spends from each budget in turn; the first one that is out answers 429. */
  async function spend(ctx: Context, steps: ReadonlyArray<readonly [Consume | undefined, string]>): Promise<boolean> {
    for (const [consume, key] of steps) {
      if (!consume) continue;
      const outcome = await consume(ctx, key);
      if (!outcome) continue;
      if (outcome.unavailable) {
        // Redis is away and budgets fail closed (REDIS_UNAVAILABLE=closed).
        deps.metrics?.unavailableResponses?.inc({ dependency: 'redis' });
        await sendLimitsUnavailable(ctx, deps.refusal, REDIS_RETRY_AFTER_SECONDS);
        return false;
      }
      noteAppliedLimit(ctx, outcome.applied);
      if (outcome.limited) {
        await sendTooManyRequests(ctx, deps.refusal, { retryAfterSeconds: outcome.applied.resetSeconds, message: 'Too many requests.' });
        return false;
      }
    }
    return true;
  }

  /** A client whose budget ran out, refused by the id it claims (no engine, no database). */
  async function refuseSpentClient(ctx: Context): Promise<boolean> {
    const claim = await readClientClaim(ctx);
    const hit = claim.kind === 'credential' ? refused.get('client', claim.clientId) : undefined;
    const wait = hit ? Math.ceil((hit.until - Date.now()) / 1000) : 0;
    const quota = deps.tiers.client;
    if (!hit || wait <= 0 || !quota) return false;
    hit.counted?.inc();
    noteAppliedLimit(ctx, { policy: 'client', quota: quota.max, windowSeconds: quota.windowSeconds, remaining: 0, resetSeconds: wait });
    await sendTooManyRequests(ctx, deps.refusal, { retryAfterSeconds: wait, message: 'Too many requests.' });
    return true;
  }

  return {
    repeatRefusals: repeatRefusals({ refused, classify, clientPaths: deps.clientPaths, refusal: deps.refusal }),
    async requests(ctx, next) {
      const address = addressKey(ctx.ip) || 'unknown';
      const endpoint = classify(ctx);
      if (await spend(ctx, [[ip, address], [endpoint && endpoints[endpoint], address]])) await next();
    },
    async clients(ctx, next) {
      if (!client || ctx.method !== 'POST' || !deps.clientPaths.has(routedPath(ctx.path))) {
        await next();
        return;
      }
      if (await refuseSpentClient(ctx)) return;
      await next();
      const id = authenticatedClient(ctx);
      const outcome = id ? await client(ctx, id, true) : undefined;
      // (Already answered: with Redis away and budgets closed, nothing is spent.)
      if (outcome && !outcome.unavailable) noteAppliedLimit(ctx, outcome.applied);
    },
    async accounts(ctx, next) {
      const token = (ctx.state as { accessToken?: { sub?: string | undefined; clientId: string } }).accessToken;
      const key = token?.sub ?? (token ? `client:${token.clientId}` : undefined);
      if (!key || (await spend(ctx, [[account, key]]))) await next();
    },
  };
}
