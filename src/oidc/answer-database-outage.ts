import type { Middleware } from 'koa';
import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';

import { isDatabaseUnavailable, type DatabaseOutage } from '../db/index.ts';
import { errors } from './engine.ts';

// The engine catches whatever its storage throws and answers `server_error` 500 (and emits
// `server_error`). A database that is unreachable is no bug of ours or the client's: the
// answer becomes 503 `temporarily_unavailable` with Retry-After, in the endpoint's own
// shape (JSON, the error page for a browser, or the client's redirect URI carrying the
// error at the authorization endpoint), counted and logged once per outage.

const DESCRIPTION = 'the service is temporarily unavailable; try again shortly';

export interface DatabaseOutageAnswer {
  /** From the `server_error` listener: true when `error` is the database being away (the response will be rewritten; no stack to log). */
  claim(ctx: KoaContextWithOIDC, error: unknown): boolean;
  /** Outermost engine middleware: rewrites the claimed responses. */
  readonly middleware: Middleware;
}

export function answerDatabaseOutage(deps: { outage: DatabaseOutage; renderError: NonNullable<Configuration['renderError']> }): DatabaseOutageAnswer {
  const claimed = new WeakSet<object>();
  return {
    claim(ctx, error) {
      if (!isDatabaseUnavailable(error)) return false;
      claimed.add(ctx.req);
      deps.outage.refused(error);
      return true;
    },
    async middleware(koaCtx, next) {
      await next();
      if (!claimed.has(koaCtx.req)) return;
      const ctx = koaCtx as unknown as KoaContextWithOIDC;
      const location = ctx.response.get('Location');
      if (ctx.status >= 300 && ctx.status < 400 && location) {
        // An authorization error sent to the client's redirect URI: the same redirect, with
        // the code that tells the client to try again later (RFC 6749 4.1.2.1).
        ctx.redirect(withTemporarilyUnavailable(location));
        return;
      }
      ctx.status = 503;
      ctx.set('Retry-After', String(deps.outage.retryAfterSeconds));
      ctx.set('Cache-Control', 'no-store');
      if (ctx.response.is('html')) {
        const error = new errors.TemporarilyUnavailable(DESCRIPTION);
        Object.assign(error, { status: 503, statusCode: 503, expose: true });
        await deps.renderError(ctx, { error: 'temporarily_unavailable', error_description: DESCRIPTION }, error);
        ctx.status = 503;
      } else {
        ctx.body = { error: 'temporarily_unavailable', error_description: DESCRIPTION };
      }
    },
  };
}

/** The redirect with `error=server_error` (query or fragment) turned into `temporarily_unavailable`. */
export function withTemporarilyUnavailable(location: string): string {
  return location.replace(/([?#&])error=server_error(&error_description=[^&#]*)?/, `$1error=temporarily_unavailable&error_description=${encodeURIComponent(DESCRIPTION)}`);
}
