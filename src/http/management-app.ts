import Koa from 'koa';

import type { Metrics } from '../observability/index.ts';
import type { Health } from './health.ts';

/**
 * The management listener's app (MANAGEMENT_HOST:MANAGEMENT_PORT, 127.0.0.1 by default):
 * Prometheus metrics, liveness and readiness. Separate from the public app so that none
 * of it is reachable through the issuer's address, and so its requests never show up in
 * the public request metrics. Pure: main.ts listens.
 */
export function createManagementApp(deps: { metrics: Metrics; health: Health }): Koa {
  const app = new Koa();
  app.silent = true;
  app.use(async (ctx, next) => {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      await next();
      return;
    }
    ctx.set('Cache-Control', 'no-store');
    switch (ctx.path) {
      case '/metrics':
        ctx.type = deps.metrics.registry.contentType;
        ctx.body = await deps.metrics.registry.metrics();
        return;
      case '/healthz':
        ctx.body = { status: 'ok' };
        return;
      case '/readyz': {
        const report = await deps.health.readiness();
        ctx.status = report.ready ? 200 : 503;
        ctx.body = { status: report.ready ? 'ready' : 'not_ready', ...report };
        return;
      }
      default:
        await next();
    }
  });
  return app;
}
