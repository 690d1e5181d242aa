import type { Middleware } from 'koa';

import type { Metrics } from '../observability/index.ts';
import { responseError } from './response-error.ts';
import { afterEachRequest } from './after-each-request.ts';
import { methodLabel, routeLabel } from './route-label.ts';

/**
 * Observes every request's duration by method, route and status, and counts the OAuth
 * errors responses carry (bounded labels only). Refusals of the abuse limits (429) have
 * their own series, portcullis_rate_limited_total.
 */
export function requestMetrics(options: { metrics: Metrics }): Middleware {
  const { httpRequestDuration, oauthErrors } = options.metrics;
  return afterEachRequest((ctx, status, durationMs) => {
    const route = routeLabel(ctx);
    httpRequestDuration.observe({ method: methodLabel(ctx.method), route, status: String(status) }, durationMs / 1000);
    const error = status === 429 ? undefined : responseError(ctx, status);
    if (error !== undefined) oauthErrors.inc({ error, route });
  });
}
