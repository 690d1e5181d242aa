import type { Context, Middleware } from 'koa';

import type { RateLimitBudget, RateLimitTier } from '../config/index.ts';
import type { AuditSink } from '../observability/audit-sink.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { addressKey } from './address-key.ts';
import { createClassifier, type EndpointPaths } from './classify.ts';
import { claimedClientId } from './client-credentials.ts';
import type { LimitBackend } from './limit-backend.ts';
import { createRefusalMemo, repeatRefusals } from './repeat-refusals.ts';
import { createTiers, type Consume } from './tier.ts';
import { noteAppliedLimit, sendTooManyRequests, type RefusalOptions } from './too-many-requests.ts';

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
  readonly metrics?: Pick<Metrics, 'rateLimited'> | undefined;
  readonly paths: EndpointPaths;
}

export interface RateLimits {
  /** Repeat refusals of a key already over budget: first of all, a lean 429 (repeat-refusals.ts). */
  readonly repeatRefusals: Middleware;
  /** `ip` and the per-address endpoint budgets: mount before anything that costs. */
  readonly requests: Middleware;
  /** `client`: mount in front of the engine, after the failed-authentication throttle. */
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
  } as const;
  const classify = createClassifier(deps.paths);
  const tokenPaths = new Set([deps.paths.token, deps.paths.introspection, deps.paths.revocation]);

  /** Spends from each budget in turn; the first one that is out answers 429. */
  async function spend(ctx: Context, steps: ReadonlyArray<readonly [Consume | undefined, string]>): Promise<boolean> {
    for (const [consume, key] of steps) {
      if (!consume) continue;
      const outcome = await consume(ctx, key);
      if (!outcome) continue;
      noteAppliedLimit(ctx, outcome.applied);
      if (outcome.limited) {
        await sendTooManyRequests(ctx, deps.refusal, { retryAfterSeconds: outcome.applied.resetSeconds, message: 'Too many requests.' });
        return false;
      }
    }
    return true;
  }

  return {
    repeatRefusals: repeatRefusals({ refused, classify, refusal: deps.refusal }),
    async requests(ctx, next) {
      const address = addressKey(ctx.ip) || 'unknown';
      const endpoint = classify(ctx);
      if (await spend(ctx, [[ip, address], [endpoint && endpoints[endpoint], address]])) await next();
    },
    async clients(ctx, next) {
      const id = client && ctx.method === 'POST' && tokenPaths.has(ctx.path) ? claimedClientId(ctx) : undefined;
      if (!id || (await spend(ctx, [[client, id]]))) await next();
    },
    async accounts(ctx, next) {
      const token = (ctx.state as { accessToken?: { sub?: string | undefined; clientId: string } }).accessToken;
      const key = token?.sub ?? (token ? `client:${token.clientId}` : undefined);
      if (!key || (await spend(ctx, [[account, key]]))) await next();
    },
  };
}
