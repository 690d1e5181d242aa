import type { Context, Middleware } from 'koa';

// The timing wrapper the access log and the request metrics share: each request reported
// once, when it is over, with the status the client got.

/** The status the client gets, also when an error escapes the middleware below. */
export function statusOf(ctx: Context, error: unknown): number {
  if (error === undefined) return ctx.status;
  const status = typeof error === 'object' && error !== null && 'status' in error ? error.status : undefined;
  return typeof status === 'number' && status >= 400 && status < 600 ? status : 500;
}

/**
 * Middleware that reports every request once it is over, with the status the client got
 * (also when an error escapes) and the milliseconds it took.
 */
export function afterEachRequest(report: (ctx: Context, status: number, durationMs: number) => void): Middleware {
  return async (ctx, next) => {
    const started = performance.now();
    let failure: unknown;
    try {
      await next();
    } catch (error) {
      failure = error ?? new Error('unknown');
      throw error;
    } finally {
      report(ctx, statusOf(ctx, failure), performance.now() - started);
    }
  };
}
