import type { Context } from 'koa';
import { z } from 'zod';

import { MIN_PASSWORD_LENGTH, type PasswordResets } from '../accounts/index.ts';
import { requestFacts, type AuditSink } from '../audit/index.ts';
import { passwordChangedMessage, passwordResetMessage, type Mailer } from '../mail/index.ts';
import type { Logger } from '../observability/index.ts';
import { CSRF_FIELD, issueCsrfToken, PASSWORD_RESET_CSRF } from './csrf.ts';
import { formatClock, formatWait, translator } from './messages/index.ts';
import { passwordProblemText } from './password-problem-text.ts';
import { languageModel, pageLocale, sendPage, type RenderPage } from './render-page.ts';
import type { ResetRequestQueue } from './reset-request-queue.ts';
import type { ResetThrottle } from './reset-throttle.ts';

// The password reset pages: "Forgot password?" (asked from a sign-in, or on its own), the
// link's new-password form, and what comes after. Rules:
// - a request gets the same answer, in the same time, whether or not the address names an
//   account: the throttle counts every request alike, then the page answers and the rest
//   (lookup, link, mail, audit) happens in the background;
// - the link's token travels in the query (access logs drop queries) and in the form body,
//   never in a path; the page that shows the form does not spend it;
// - a refused password shows the form again, the link still working; a dead link says so
//   and offers a new one, whatever made it dead;
// - the person goes back to the sign-in they came from, when there was one.

const MAX_EMAIL = 254;

// A field sent twice or as a structure counts as empty, as on the login form.
const requestForm = z.object({ email: z.string().catch('') });
const newPasswordForm = z.object({ token: z.string().catch(''), password: z.string().catch('') });

export interface PasswordResetDeps {
  readonly resets: PasswordResets;
  readonly mailer: Mailer;
  readonly render: RenderPage;
  readonly audit: AuditSink;
  readonly logger: Logger;
  readonly throttle: ResetThrottle;
  /** Where a request's work goes, to be done after its page has answered. */
  readonly requests: ResetRequestQueue;
  readonly issuer: string;
  /** Seconds a link works (PASSWORD_RESET_TTL): said on the page and in the mail. */
  readonly ttlSeconds: number;
}

/** Where a request form lives: inside a sign-in (its interaction) or on its own. */
export interface RequestPlace {
  /** Where the form posts. */
  readonly action: string;
  readonly csrf: string;
  /** The sign-in to go back to. */
  readonly backUrl?: string | undefined;
  readonly interactionUid?: string | undefined;
  /** What the audit events say of the request (client, address, request id). */
  readonly facts: Record<string, unknown>;
}

export interface PasswordResetPages {
  showRequest(ctx: Context, place: RequestPlace): void;
  submitRequest(ctx: Context, place: RequestPlace): Promise<void>;
  /** GET /password-reset/new?token=: the new-password form, or the dead-link page. */
  showNewPassword(ctx: Context): Promise<void>;
  /** POST /password-reset/new. */
  submitNewPassword(ctx: Context): Promise<void>;
}

export function createPasswordResetPages(deps: PasswordResetDeps): PasswordResetPages {
  const { resets, mailer, render, audit, throttle, requests } = deps;
  const issuerHost = new URL(deps.issuer).host;

  function sendRequestForm(ctx: Context, place: RequestPlace, form: { email: string; error?: string }, status = 200) {
    const t = translator(pageLocale(ctx));
    sendPage(ctx, render, 'forgot-password', { title: t('reset.title'), action: place.action, csrfField: CSRF_FIELD, csrf: place.csrf, backUrl: place.backUrl, email: form.email, error: form.error }, status);
  }

  /** A page that says how things stand: `lead` is escaped here, its values emphasised. */
  function sendOutcome(
    ctx: Context,
    page: { tone: 'success' | 'warning'; title: string; lead: string; notice?: string | undefined; action?: { label: string; url: string } | undefined },
    status: number,
  ) {
    sendPage(ctx, render, 'reset-outcome', page, status);
  }

  function sendInvalidLink(ctx: Context) {
    const { t, tm } = languageModel(pageLocale(ctx));
    sendOutcome(ctx, { tone: 'warning', title: t('reset.invalid.title'), lead: tm('reset.invalid.lead', {}), action: { label: t('reset.invalid.again'), url: '/password-reset' } }, 400);
  }

  function sendNewPasswordForm(ctx: Context, token: string, error?: string) {
    const t = translator(pageLocale(ctx));
    sendPage(
      ctx,
      render,
      'reset-password',
      { title: t('reset.new.title'), csrfField: CSRF_FIELD, csrf: issueCsrfToken(ctx, '', PASSWORD_RESET_CSRF), token, minLength: MIN_PASSWORD_LENGTH, error },
      error ? 400 : 200,
    );
  }

  return {
    showRequest(ctx, place) {
      sendRequestForm(ctx, place, { email: '' });
    },

    async submitRequest(ctx, place) {
      const locale = pageLocale(ctx);
      const { t, tm } = languageModel(locale);
      const email = requestForm.parse(ctx.request.body ?? {}).email.trim();
      if (!email.includes('@') || email.length > MAX_EMAIL) {
        sendRequestForm(ctx, place, { email: email.slice(0, MAX_EMAIL), error: t('reset.email.missing') }, 400);
        return;
      }
      const verdict = await throttle.take(ctx, { email, ip: ctx.ip });
      if (!verdict.allowed) {
        const until = new Date(Date.now() + verdict.retryAfterSeconds * 1000);
        const error = t('reset.throttled', { time: formatClock(locale, until), wait: formatWait(t, verdict.retryAfterSeconds) });
        sendRequestForm(ctx, place, { email, error }, 429);
        return;
      }
      // The rest after the answer (reset-request-queue.ts): its time would tell who has an account.
      const taken = requests.run(async () => {
        let sent = false;
        try {
          const { account, token } = await resets.request(email, { interactionUid: place.interactionUid });
          if (account && token) {
            // Under the issuer as written (a path in it included), like every URL the engine publishes.
            const link = new URL(`${deps.issuer}/password-reset/new`);
            link.searchParams.set('token', token);
            // Queued for sending (false when the mail queue is full or closing).
            sent = mailer.send(passwordResetMessage({ to: account.email, link: link.href, ttlSeconds: deps.ttlSeconds, issuerHost }));
          }
          // For operators (the account, when the address names one); the person's answer below is the same either way.
          audit.record({ type: 'password_reset.requested', ...(account && { accountId: account.id }), ...place.facts, data: { sent } });
        } catch (error) {
          audit.record({ type: 'password_reset.requested', ...place.facts, data: { sent, failed: true } });
          throw error;
        }
      });
      if (!taken) audit.record({ type: 'password_reset.requested', ...place.facts, data: { sent: false, dropped: true } });
      sendOutcome(
        ctx,
        {
          tone: 'success',
          title: t('reset.sent.title'),
          lead: tm('reset.sent.lead', { email, wait: formatWait(t, deps.ttlSeconds) }),
          notice: t('reset.sent.notice'),
          action: place.backUrl ? { label: t('reset.back'), url: place.backUrl } : undefined,
        },
        200,
      );
    },

    async showNewPassword(ctx) {
      const token = typeof ctx.query.token === 'string' ? ctx.query.token : '';
      if (!(await resets.isUsable(token))) return sendInvalidLink(ctx);
      sendNewPasswordForm(ctx, token);
    },

    async submitNewPassword(ctx) {
      const { token, password } = newPasswordForm.parse(ctx.request.body ?? {});
      const outcome = await resets.complete(token, password);
      const facts = requestFacts(ctx);
      if (!outcome.ok) {
        audit.record({ type: 'password_reset.failed', ...facts, data: { reason: outcome.reason } });
        if (outcome.reason === 'invalid_link') return sendInvalidLink(ctx);
        return sendNewPasswordForm(ctx, token, passwordProblemText(translator(pageLocale(ctx)), outcome.reason));
      }
      const { account, ended, interactionUid, endFailed } = outcome;
      if (endFailed !== undefined) {
        // The password changed but its sessions may live on: an operator must know (and end them: `portcullis revoke --user`).
        const error = endFailed instanceof Error ? endFailed : undefined;
        deps.logger.error({ accountId: account.id, err: { name: error?.name, code: (error as { code?: unknown } | undefined)?.code } }, 'password reset: the password changed, but ending its sessions failed');
      }
      audit.record({
        type: 'password_reset.completed',
        actor: account.id,
        accountId: account.id,
        ...facts,
        data: { endedSessions: ended !== undefined, ...(ended && { grants: ended.grants, tokens: ended.tokens }), ...(endFailed !== undefined && { endFailed: true }) },
      });
      mailer.send(passwordChangedMessage({ to: account.email, issuerHost, endedSessions: ended !== undefined }));
      const { t, tm } = languageModel(pageLocale(ctx));
      sendOutcome(
        ctx,
        {
          tone: 'success',
          title: t('reset.done.title'),
          lead: tm('reset.done.lead', {}),
          notice: ended ? t('reset.done.signed-out') : undefined,
          action: interactionUid ? { label: t('reset.done.continue'), url: `/interaction/${encodeURIComponent(interactionUid)}` } : undefined,
        },
        200,
      );
    },
  };
}
