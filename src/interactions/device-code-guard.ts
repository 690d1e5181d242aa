import type { Context, Middleware } from 'koa';

import { requestFacts, type AuditSink } from '../audit/index.ts';
import { routedPath } from '../http/index.ts';
import { CODE_OUTCOME, PREFILLED_CODE, type CodeOutcome } from './device-pages.ts';
import { formatClock, formatWait, translator } from './messages/index.ts';
import { pageLocale, sendPage, type RenderPage } from './render-page.ts';

// In front of the engine's POST /device: each typed user code is reserved with the device
// code throttle (abuse/device-code-throttle.ts) before the engine looks it up, and settled
// once the page said how it turned out (device-pages.ts). A wrong code is counted and
// audited (device.code_wrong); an address over its count gets a 429 in the page's style,
// without the engine (no lookup, no session write).
// In front of its GET /device?user_code=… (the verification_uri_complete of RFC 8628): the
// engine answers with a page that posts the code at once, so any web page could send a
// browser there with wrong codes and spend its address's allowance (locking out everyone
// behind it). The code is taken off the query instead, and the page shows it filled in for
// the person to check against the device and submit (RFC 8628 section 3.3.1).

/** What the page needs of the throttle (abuse/ builds it; app.ts checks the fit). */
export interface DeviceCodeThrottle {
  reserve(
    ctx: Context,
    ip: string,
  ): Promise<{ refused: false; failed(): Promise<void>; released(): Promise<void> } | { refused: true; retryAfterSeconds: number }>;
}

export interface DeviceCodeGuardDeps {
  /** The engine's code_verification path (/device). */
  readonly path: string;
  readonly throttle: DeviceCodeThrottle;
  readonly render: RenderPage;
  readonly audit: AuditSink;
}

/** oidc-provider's refusal to save a session it never stored (lib/models/session.js persist). */
function isUnsavedSessionError(error: unknown): boolean {
  return error instanceof TypeError && error.message.startsWith('persist can only be called on previously persisted Sessions');
}

/** A code as a link carried it, fit to show in the field: the user-code alphabet and dashes only, or nothing. */
function prefillOf(value: unknown): string {
  if (typeof value !== 'string') return '';
  const code = value.trim().toUpperCase();
  return /^[A-Z0-9-]{1,32}$/.test(code) ? code : '';
}

export function guardDeviceCodes(deps: DeviceCodeGuardDeps): Middleware {
  const path = routedPath(deps.path);
  return async (ctx, next) => {
    // Only a POST, or a GET with a query, can be ours: everything else passes without a look at its path.
    const candidate = ctx.method === 'POST' || (ctx.method === 'GET' && ctx.querystring !== '');
    if (!candidate || routedPath(ctx.path) !== path) {
      await next();
      return;
    }
    if (ctx.method === 'GET' && 'user_code' in ctx.query) {
      const { user_code: carried, ...rest } = ctx.query;
      ctx.state[PREFILLED_CODE] = prefillOf(carried);
      ctx.query = rest;
    }
    if (ctx.method !== 'POST') {
      await next();
      return;
    }
    const attempt = await deps.throttle.reserve(ctx, ctx.ip);
    if (attempt.refused) {
      const locale = pageLocale(ctx);
      const t = translator(locale);
      const until = new Date(Date.now() + attempt.retryAfterSeconds * 1000);
      const error = t('device.throttled', { time: formatClock(locale, until), wait: formatWait(t, attempt.retryAfterSeconds) });
      // No form: the engine's xsrf token lives in its session, which this answer does not
      // touch. The button opens the page again once the wait is over.
      sendPage(ctx, deps.render, 'device', { title: t('device.title'), action: deps.path, xsrf: '', userCode: '', error }, 429);
      return;
    }
    try {
      await next();
    } catch (error) {
      if (!isUnsavedSessionError(error)) throw error;
      // The engine's xsrf refusal of a form without a session of its own (no cookie, or
      // one whose session expired) fails while it renders it: the session it issued the
      // new token in was never stored. Answered here as what it is, a stale form.
      const t = translator(pageLocale(ctx));
      sendPage(ctx, deps.render, 'device', { title: t('device.title'), action: deps.path, xsrf: '', userCode: '', error: t('device.failed') }, 400);
    } finally {
      const outcome = ctx.state[CODE_OUTCOME] as CodeOutcome | undefined;
      if (outcome === 'wrong') {
        await attempt.failed();
        deps.audit.record({ type: 'device.code_wrong', ...requestFacts(ctx) });
      } else {
        await attempt.released();
      }
    }
  };
}
