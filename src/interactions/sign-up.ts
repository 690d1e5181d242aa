import type { Context } from 'koa';
import { z } from 'zod';

import { MAX_EMAIL_LENGTH, MIN_PASSWORD_LENGTH, plainAddress, type SignUps } from '../accounts/index.ts';
import { requestFacts, type AuditSink } from '../audit/index.ts';
import { alreadyRegisteredMessage, signUpMessage, type Mailer } from '../mail/index.ts';
import { CSRF_FIELD, issueCsrfToken, SIGN_UP_CSRF } from './csrf.ts';
import { formatClock, formatWait, translator, type MessageKey } from './messages/index.ts';
import type { RequestPlace } from './password-reset.ts';
import { passwordProblemText } from './password-problem-text.ts';
import { languageModel, pageLocale, sendPage, type RenderPage } from './render-page.ts';
import type { ResetRequestQueue } from './reset-request-queue.ts';
import type { ResetThrottle } from './reset-throttle.ts';

// The sign-up pages (REGISTRATION=invite|open; accounts/sign-ups.ts has the rules of the
// links and invitations): the address form (from a sign-in, on its own, or from an
// invitation), the mailed link's name-and-password form, and what comes after. Rules:
// - invite: nothing without a working invitation; open: anyone, an invitation optional
//   (it gives roles);
// - a request gets the same answer, in the same time, whether or not the address has an
//   account: the throttle counts every request alike (per address typed and network, apart
//   from resets), then the page answers and the rest (lookup, link, mail, audit) happens in
//   the background; the owner of an existing account is told by mail, never on the page;
// - tokens travel in queries and form bodies, never in paths; showing a form spends nothing;
// - a refused name or password shows the form again, the link still working (up to a limit).

// A field sent twice or as a structure counts as empty, as on the login form.
const requestForm = z.object({ email: z.string().catch(''), invite: z.string().catch('') });
const completeForm = z.object({ token: z.string().catch(''), name: z.string().catch(''), password: z.string().catch('') });

/** The mailbox an address reaches, for counting mail to it: its sub-address (`+tag`) dropped. */
export function mailboxOf(normalizedEmail: string): string {
  const at = normalizedEmail.lastIndexOf('@');
  const local = normalizedEmail.slice(0, at);
  const plus = local.indexOf('+');
  return `${plus > 0 ? local.slice(0, plus) : local}${normalizedEmail.slice(at)}`;
}

export interface SignUpDeps {
  readonly mode: 'invite' | 'open';
  readonly signUps: SignUps;
  readonly mailer: Mailer;
  readonly render: RenderPage;
  readonly audit: AuditSink;
  readonly throttle: ResetThrottle;
  /** Where a request's work goes, to be done after its page has answered (shared with resets). */
  readonly requests: ResetRequestQueue;
  readonly issuer: string;
  /** Seconds a link works (SIGN_UP_LINK_TTL): said on the page and in the mail. */
  readonly ttlSeconds: number;
  /** "Forgot password?" is on: the mail to an existing account links to it. */
  readonly passwordReset: boolean;
}

/** Where an address form lives; `invite` is the invitation token it carries, if any. */
export type SignUpPlace = RequestPlace & { readonly invite?: string | undefined };

export interface SignUpPages {
  showRequest(ctx: Context, place: SignUpPlace): Promise<void>;
  submitRequest(ctx: Context, place: SignUpPlace): Promise<void>;
  /** GET /signup/complete?token=: the name-and-password form, or the dead-link page. */
  showComplete(ctx: Context): Promise<void>;
  /** POST /signup/complete. */
  submitComplete(ctx: Context): Promise<void>;
}

type Outcome = { tone: 'success' | 'warning'; title: MessageKey; lead: MessageKey; leadVars?: Record<string, string>; notice?: MessageKey | undefined; action?: { label: MessageKey; url: string } | undefined };

export function createSignUpPages(deps: SignUpDeps): SignUpPages {
  const { signUps, mailer, render, audit, throttle, requests } = deps;
  const issuerHost = new URL(deps.issuer).host;
  // Under the issuer as written (a path in it included), like every URL the engine publishes.
  const issuerUrl = (path: string) => new URL(`${deps.issuer}${path}`);

  /** A page that says how things stand (reset-outcome's layout): `lead` escaped, its values emphasised. */
  function sendOutcome(ctx: Context, page: Outcome, status: number) {
    const { t, tm } = languageModel(pageLocale(ctx));
    sendPage(
      ctx,
      render,
      'reset-outcome',
      {
        tone: page.tone,
        title: t(page.title),
        lead: tm(page.lead, page.leadVars ?? {}),
        notice: page.notice && t(page.notice),
        action: page.action && { label: t(page.action.label), url: page.action.url },
      },
      status,
    );
  }

  const inviteOnly = (ctx: Context) => sendOutcome(ctx, { tone: 'warning', title: 'signup.invite-only.title', lead: 'signup.invite-only.lead' }, 403);
  const deadInvitation = (ctx: Context) => sendOutcome(ctx, { tone: 'warning', title: 'signup.invalid-invitation.title', lead: 'signup.invalid-invitation.lead' }, 400);
  const deadLink = (ctx: Context) => sendOutcome(ctx, { tone: 'warning', title: 'signup.invalid.title', lead: 'signup.invalid.lead', action: { label: 'signup.invalid.again', url: '/signup' } }, 400);

  function sendRequestForm(ctx: Context, place: SignUpPlace, form: { email: string; invitedEmail?: string | null | undefined; error?: string }, status = 200) {
    const t = translator(pageLocale(ctx));
    sendPage(
      ctx,
      render,
      'sign-up',
      { title: t('signup.title'), action: place.action, csrfField: CSRF_FIELD, csrf: place.csrf, backUrl: place.backUrl, invite: place.invite, invitedEmail: form.invitedEmail ?? undefined, email: form.email, error: form.error },
      status,
    );
  }

  function sendCompleteForm(ctx: Context, form: { token: string; email: string; name: string; error?: { field: 'name' | 'password'; text: string } }) {
    const t = translator(pageLocale(ctx));
    sendPage(
      ctx,
      render,
      'sign-up-complete',
      { title: t('signup.complete.title'), csrfField: CSRF_FIELD, csrf: issueCsrfToken(ctx, '', SIGN_UP_CSRF), token: form.token, email: form.email, name: form.name, minLength: MIN_PASSWORD_LENGTH, error: form.error?.text, field: form.error?.field },
      form.error ? 400 : 200,
    );
  }

  return {
    async showRequest(ctx, place) {
      if (!place.invite) {
        if (deps.mode === 'invite') return inviteOnly(ctx);
        return sendRequestForm(ctx, place, { email: '' });
      }
      const check = await signUps.checkInvitation(place.invite);
      if (!check.ok) return deadInvitation(ctx);
      sendRequestForm(ctx, place, { email: check.invitation.email ?? '', invitedEmail: check.invitation.email });
    },

    async submitRequest(ctx, place) {
      const locale = pageLocale(ctx);
      const t = translator(locale);
      const form = requestForm.parse(ctx.request.body ?? {});
      const email = form.email.trim();
      const invite = form.invite || undefined;
      const formPlace = { ...place, invite };
      if (!invite && deps.mode === 'invite') return inviteOnly(ctx);
      const address = plainAddress(email);
      if (address === undefined) return sendRequestForm(ctx, formPlace, { email: email.slice(0, MAX_EMAIL_LENGTH), error: t('signup.email.missing') }, 400);
      if (invite) {
        const check = await signUps.checkInvitation(invite, address);
        if (!check.ok && check.reason === 'invalid_invitation') return deadInvitation(ctx);
        if (!check.ok) return sendRequestForm(ctx, formPlace, { email, error: t('signup.email.other') }, 400);
      }
      // Counted per mailbox: `ann+1@`, `ann+2@` ... all reach ann's inbox.
      const verdict = await throttle.take(ctx, { email: mailboxOf(address), ip: ctx.ip });
      if (!verdict.allowed) {
        const until = new Date(Date.now() + verdict.retryAfterSeconds * 1000);
        return sendRequestForm(ctx, formPlace, { email, error: t('signup.throttled', { time: formatClock(locale, until), wait: formatWait(t, verdict.retryAfterSeconds) }) }, 429);
      }
      // The rest after the answer (reset-request-queue.ts): its time would tell who has an account.
      const invited = invite !== undefined;
      const taken = requests.run(async () => {
        let sent = false;
        try {
          const request = await signUps.request(address, { invitationToken: invite, interactionUid: place.interactionUid });
          if (request.kind === 'link') {
            const link = issuerUrl('/signup/complete');
            link.searchParams.set('token', request.token);
            sent = mailer.send(signUpMessage({ to: request.email, link: link.href, ttlSeconds: deps.ttlSeconds, issuerHost }));
          } else if (request.kind === 'existing') {
            const resetUrl = deps.passwordReset ? issuerUrl('/password-reset').href : undefined;
            sent = mailer.send(alreadyRegisteredMessage({ to: request.account.email, issuerHost, resetUrl }));
          }
          // For operators (the account, when the address has one); the person's answer below is the same either way.
          audit.record({ type: 'signup.requested', ...(request.kind === 'existing' && { accountId: request.account.id }), ...place.facts, data: { sent, invited, ...(request.kind === 'refused' && { refused: 'invitation' }) } });
        } catch (error) {
          audit.record({ type: 'signup.requested', ...place.facts, data: { sent, invited, failed: true } });
          throw error;
        }
      });
      if (!taken) audit.record({ type: 'signup.requested', ...place.facts, data: { sent: false, invited, dropped: true } });
      sendOutcome(
        ctx,
        {
          tone: 'success',
          title: 'signup.sent.title',
          lead: 'signup.sent.lead',
          leadVars: { email, wait: formatWait(t, deps.ttlSeconds) },
          notice: 'signup.sent.notice',
          action: place.backUrl ? { label: 'signup.back', url: place.backUrl } : undefined,
        },
        200,
      );
    },

    async showComplete(ctx) {
      const token = typeof ctx.query.token === 'string' ? ctx.query.token : '';
      const link = await signUps.usableLink(token);
      if (!link || (deps.mode === 'invite' && link.invitationHash === null)) return deadLink(ctx);
      sendCompleteForm(ctx, { token, email: link.email, name: '' });
    },

    async submitComplete(ctx) {
      const { token, name, password } = completeForm.parse(ctx.request.body ?? {});
      // Sign-up may have turned invite-only since the link was mailed: then it needs an invitation too.
      const outcome = await signUps.complete(token, { name, password }, { requireInvitation: deps.mode === 'invite' });
      const facts = requestFacts(ctx);
      if (!outcome.ok) {
        audit.record({ type: 'signup.failed', ...facts, data: { reason: outcome.reason } });
        if (outcome.reason === 'invalid_link') return deadLink(ctx);
        if (outcome.reason === 'invitation_spent') return deadInvitation(ctx);
        if (outcome.reason === 'taken') {
          return sendOutcome(ctx, { tone: 'warning', title: 'signup.taken.title', lead: 'signup.taken.lead', action: deps.passwordReset ? { label: 'reset.forgot', url: '/password-reset' } : undefined }, 409);
        }
        const link = await signUps.usableLink(token);
        if (!link) return deadLink(ctx);
        const t = translator(pageLocale(ctx));
        const error =
          outcome.reason === 'name' ? { field: 'name' as const, text: t('signup.complete.name.invalid') } : { field: 'password' as const, text: passwordProblemText(t, outcome.reason) };
        return sendCompleteForm(ctx, { token, email: link.email, name: name.slice(0, 200), error });
      }
      const { account, interactionUid, invited } = outcome;
      // The person acts, through their link: their new account is the actor in the audit trail.
      audit.record({ type: 'signup.completed', actor: account.id, accountId: account.id, ...facts, data: { invited, roles: account.roles } });
      sendOutcome(
        ctx,
        {
          tone: 'success',
          title: 'signup.done.title',
          lead: 'signup.done.lead',
          action: interactionUid ? { label: 'signup.done.continue', url: `/interaction/${encodeURIComponent(interactionUid)}` } : undefined,
        },
        201,
      );
    },
  };
}
