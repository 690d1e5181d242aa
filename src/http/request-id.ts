import { randomUUID } from 'node:crypto';

import type { Middleware } from 'koa';

const ACCEPTABLE = /^[A-Za-z0-9._:-]{8,128}$/;

/**
 * Gives every request an id, echoed in X-Request-Id. A well-formed id from a trusted
 * proxy is kept so one id follows the request through the whole stack.
 */
export function requestId(options: { trustProxy: boolean }): Middleware {
  return async (ctx, next) => {
    const incoming = options.trustProxy ? ctx.get('X-Request-Id') : '';
    const id = ACCEPTABLE.test(incoming) ? incoming : randomUUID();
    ctx.state.requestId = id;
    ctx.set('X-Request-Id', id);
    await next();
  };
}
