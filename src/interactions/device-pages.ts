import type { KoaContextWithOIDC } from 'oidc-provider';

import { requestFacts, type AuditSink } from '../audit/index.ts';
import type { DeviceFlowPages } from '../oidc/index.ts';
import { clientDisplay } from './client-display.ts';
import { formatClock, translator } from './messages/index.ts';
import { pageLocale, sendPage, type RenderPage } from './render-page.ts';

// The pages of the device flow (RFC 8628) at /device. The engine owns the protocol: it
// finds the device code by the user code (normalised: upper case, no dashes or spaces),
// checks its own xsrf token against the browser's session, and sends the person through
// the usual login and consent interaction. We render the pages in the login pages' style
// (the engine's own forms carry inline handlers our CSP refuses), and tell the code guard
// (device-code-guard.ts) how a code turned out.

/** How the last code typed turned out, for the code guard (on ctx.state). */
export type CodeOutcome = 'wrong' | 'missing' | 'other';
export const CODE_OUTCOME = 'deviceCodeOutcome';
/** The code a verification_uri_complete link carried, to show filled in (device-code-guard.ts; on ctx.state). */
export const PREFILLED_CODE = 'devicePrefilledCode';

// The engine's re-render errors (lib/helpers/re_render_errors.js), by name. Not found,
// expired and already used all read the same to the person: nothing tells a guesser that
// a code exists.
const WRONG_CODE = new Set(['NotFoundError', 'ExpiredError', 'AlreadyUsedError']);

interface DeviceCodeLike {
  readonly clientId?: string;
  readonly scope?: string;
}

/** The engine's xsrf token of this browser's session: issued by the engine before any source renders. */
function xsrfOf(ctx: KoaContextWithOIDC): string {
  const state = ctx.oidc.session?.state as { secret?: unknown } | undefined;
  return typeof state?.secret === 'string' ? state.secret : '';
}

/** A device's User-Agent is its own to choose: shown only this far. */
const MAX_AGENT = 120;

export function createDeviceFlowPages(render: RenderPage, audit: AuditSink): DeviceFlowPages {
  return {
    userCodeInputSource(ctx, _form, _out, err) {
      const t = translator(pageLocale(ctx));
      const action = ctx.oidc.urlFor('code_verification');
      const name = err instanceof Error ? err.name : undefined;
      if (name === 'AbortedError') {
        // The person cancelled: at the confirmation, at the login or the consent page.
        const code = (ctx.oidc.entities.DeviceCode ?? (ctx.oidc as { deviceCode?: DeviceCodeLike }).deviceCode);
        audit.record({
          type: 'device.denied',
          ...requestFacts(ctx),
          actor: ctx.oidc.session?.accountId,
          accountId: ctx.oidc.session?.accountId,
          clientId: code?.clientId ?? ctx.oidc.client?.clientId,
        });
        sendPage(ctx, render, 'device-done', { title: t('device.denied.heading'), approved: false }, 200);
        return Promise.resolve();
      }
      if (name) ctx.state[CODE_OUTCOME] = (WRONG_CODE.has(name) ? 'wrong' : name === 'NoCodeError' ? 'missing' : 'other') satisfies CodeOutcome;
      const error = !name ? undefined : WRONG_CODE.has(name) || name === 'NoCodeError' ? t('device.invalid') : t('device.failed');
      // A wrong code is not repeated back: the field starts empty, or with a link's code to check.
      const userCode = !name && typeof ctx.state[PREFILLED_CODE] === 'string' ? ctx.state[PREFILLED_CODE] : '';
      sendPage(ctx, render, 'device', { title: t('device.title'), action, xsrf: xsrfOf(ctx), userCode, error }, name && ctx.status >= 400 ? ctx.status : 200);
      return Promise.resolve();
    },

    userCodeConfirmSource(ctx, _form, client, deviceInfo, userCode) {
      const locale = pageLocale(ctx);
      const t = translator(locale);
      // Where and when the code was asked for (RFC 8628 section 5.4): a person sent a link by
      // someone else sees that the request came from a network and program not their own.
      const info = (deviceInfo ?? {}) as { ip?: unknown; ua?: unknown };
      const issuedAt = (ctx.oidc.entities.DeviceCode as { iat?: number } | undefined)?.iat;
      const agent = typeof info.ua === 'string' && info.ua.trim() ? info.ua.trim().slice(0, MAX_AGENT) : t('device.confirm.unknownAgent');
      sendPage(ctx, render, 'device-confirm', {
        title: t('device.title'),
        action: ctx.oidc.urlFor('code_verification'),
        xsrf: xsrfOf(ctx),
        client: clientDisplay(client, t),
        userCode,
        requested: t('device.confirm.requested', {
          time: formatClock(locale, issuedAt ? new Date(issuedAt * 1000) : new Date()),
          ip: typeof info.ip === 'string' ? info.ip : '?',
          agent,
        }),
      });
      return Promise.resolve();
    },

    successSource(ctx) {
      const t = translator(pageLocale(ctx));
      const code = (ctx.oidc as { deviceCode?: DeviceCodeLike }).deviceCode;
      audit.record({
        type: 'device.approved',
        ...requestFacts(ctx),
        actor: ctx.oidc.session?.accountId,
        accountId: ctx.oidc.session?.accountId,
        clientId: ctx.oidc.client?.clientId,
        data: { scope: code?.scope },
      });
      sendPage(ctx, render, 'device-done', { title: t('device.done.title'), approved: true, client: clientDisplay(ctx.oidc.client, t) });
      return Promise.resolve();
    },
  };
}
