import type { Middleware } from 'koa';

import type { Metrics } from '../observability/metrics.ts';
import { methodLabel, routeLabel, statusOf } from './route-label.ts';

/** Observes every request's duration by method, route and status (bounded labels only). */
export function requestMetrics(options: { metrics: Metrics }): Middleware {
  const histogram = options.metrics.httpRequestDuration;
  return async (ctx, next) => {
    const started = performance.now();
    let failure: unknown;
    try {
      await next();
    } catch (error) {
      failure = error ?? new Error('unknown');
      throw error;
    } finally {
      histogram.observe(
        { method: methodLabel(ctx.method), route: routeLabel(ctx), status: String(statusOf(ctx, failure)) },
        (performance.now() - started) / 1000,
      );
    }
  };
}
