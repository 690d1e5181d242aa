import type { Middleware } from 'koa';

import { isDatabaseUnavailable, type DatabaseOutage } from '../db/index.ts';
import { isAppError, type ErrorCode } from '../errors.ts';
import type { Logger } from '../observability/index.ts';
import { markPageError } from './response-error.ts';

/** `languages` is the browser's language preference (Koa's acceptsLanguages), for the page's language. */
export type RenderErrorPage = (model: {
  status: number;
  error: string;
  message: string;
  requestId: string;
  languages?: (...tags: string[]) => string | false;
}) => string;

/**
 * The one place our own routes' errors become responses: logged once, a stable code, a
 * message only when it is safe to show, never a stack. JSON for API callers, a page for
 * browsers. (The engine renders its own protocol errors; this sees only what escapes it.)
 * The database being unreachable is no bug: 503 `temporarily_unavailable` with Retry-After,
 * counted and logged once per outage by `outage` (db/database-outage.ts), not per request.
 */
export function errorHandler(options: { logger: Logger; renderPage: RenderErrorPage; outage?: DatabaseOutage | undefined }): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (caught) {
      const requestId = String(ctx.state.requestId ?? '');
      const httpError = caught as { status?: unknown; expose?: unknown; message?: unknown; code?: unknown };
      let status = 500;
      // One of our codes, or (from the engine's helpers) a protocol code kept as it is.
      let code: string = 'server_error' satisfies ErrorCode;
      let message = 'an unexpected error occurred';
      const oauthError = caught as { error?: unknown; error_description?: unknown };
      const unavailable = isDatabaseUnavailable(caught);
      if (unavailable) {
        status = 503;
        code = 'temporarily_unavailable';
        message = 'the service is temporarily unavailable; try again shortly';
        ctx.set('Retry-After', String(options.outage?.retryAfterSeconds ?? 5));
      } else if (isAppError(caught)) {
        status = caught.status;
        code = caught.code;
        if (caught.expose) message = caught.message;
      } else if (typeof oauthError.error === 'string' && typeof httpError.status === 'number') {
        // oidc-provider errors thrown by its helpers inside our routes (interactionDetails,
        // interactionFinished): keep the protocol's code and its safe description.
        status = httpError.status;
        code = oauthError.error;
        if (httpError.expose === true && typeof oauthError.error_description === 'string') message = oauthError.error_description;
      } else if (typeof httpError.status === 'number' && httpError.status >= 400 && httpError.status < 600) {
        // koa/http-errors (ctx.throw, body parser): 4xx messages are meant for the caller.
        status = httpError.status;
        code = codeOfStatus(status);
        if (httpError.expose === true && typeof httpError.message === 'string') message = httpError.message;
      }
      if (unavailable && options.outage) options.outage.refused(caught);
      else if (status >= 500) options.logger.error({ err: caught, requestId }, 'request failed');
      else options.logger.info({ requestId, status, code }, 'request rejected');

      ctx.status = status;
      ctx.set('Cache-Control', 'no-store');
      if (ctx.accepts('json', 'html') === 'html') {
        ctx.type = 'html';
        ctx.body = options.renderPage({ status, error: code, message, requestId, languages: (...tags) => ctx.acceptsLanguages(...tags) });
        markPageError(ctx, code);
      } else {
        ctx.body = { error: code, error_description: message };
      }
    }
  };
}

/** The code of an http-error (ctx.throw, the body parser), which carries only a status. */
function codeOfStatus(status: number): ErrorCode {
  if (status === 413) return 'request_too_large';
  if (status === 415) return 'unsupported_media_type';
  return status < 500 ? 'invalid_request' : 'server_error';
}
