import type { Middleware } from 'koa';

import type { Logger } from '../observability/index.ts';
import { stripQuery } from '../observability/redact.ts';
import { responseError } from './response-error.ts';
import { afterEachRequest } from './after-each-request.ts';
import { routeLabel } from './route-label.ts';

/**
 * The pages' stylesheet and script, and the icon browsers ask for on their own: a page
 * view brings several of these, and they say nothing an operator needs at info level.
 */
const ASSET_PATH = /^\/(assets\/|favicon\.ico$|apple-touch-icon[\w-]*\.png$)/;

/**
 * One line per request: method, route, status, duration, client, request id, and the
 * OAuth error the response carries (response-error.ts). Only these
 * chosen fields are logged (never headers, query strings or bodies), so a code or token
 * in a URL cannot reach the log. Asset requests log at debug, unless they fail with a
 * 5xx. Mount right after the request id.
 */
export function accessLog(options: { logger: Logger }): Middleware {
  const { logger } = options;
  return afterEachRequest((ctx, status, durationMs) => {
    const oidc = (ctx as { oidc?: { client?: { clientId?: string } } }).oidc;
    const clientId = oidc?.client?.clientId ?? (typeof ctx.state.clientId === 'string' ? ctx.state.clientId : undefined);
    const error = responseError(ctx, status);
    const line = {
      requestId: ctx.state.requestId as unknown,
      method: ctx.method,
      route: routeLabel(ctx),
      path: stripQuery(ctx.path).slice(0, 200),
      status,
      durationMs: Math.round(durationMs * 10) / 10,
      clientId,
      ip: ctx.ip,
      ...(error !== undefined && { error }),
    };
    if (status >= 500) logger.warn(line, 'request');
    else if (ASSET_PATH.test(ctx.path)) logger.debug(line, 'request');
    else logger.info(line, 'request');
  });
}
