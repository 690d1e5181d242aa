import type { Middleware } from 'koa';

import type { Metrics } from '../observability/metrics.ts';
import { afterEachRequest, methodLabel, routeLabel } from './route-label.ts';

/** Observes every request's duration by method, route and status (bounded labels only). */
export function requestMetrics(options: { metrics: Metrics }): Middleware {
  const histogram = options.metrics.httpRequestDuration;
  return afterEachRequest((ctx, status, durationMs) => {
    histogram.observe({ method: methodLabel(ctx.method), route: routeLabel(ctx), status: String(status) }, durationMs / 1000);
  });
}
