import type { Context } from 'koa';
import { z } from 'zod';

import { EMAIL_CHANGE_TTL_SECONDS, MAILBOX_CODE_TTL_MS, plainAddress, type AccountService, type EmailChanges, type MailboxProofs } from '../accounts/index.ts';
import { requestFacts, type AuditSink } from '../audit/index.ts';
import { CSRF_FIELD, formatWait, issueCsrfToken, languageModel, type MailThrottle, pageLocale, type RenderPage, type ResetThrottle, sendPage, translator } from '../interactions/index.ts';
import { addressChangeCodeMessage, emailChangedMessage, emailChangeMessage, type Mailer } from '../mail/index.ts';
import { accountPageUrl } from './account-client.ts';
import { ACCOUNT_CSRF } from './account-page.ts';
import type { CurrentPasswordCheck } from './current-password.ts';
import { sendMailedCodePage } from './mailed-code-page.ts';
import type { PageSession } from './page-session.ts';
import { pageStep } from './page-step.ts';
import type { ThrottledCode } from './throttled-code.ts';

// A change of the account's address, in three proofs, each from someone the password alone
// does not make:
//   1. the current password (current-password.ts);
//   2. a ten-digit code mailed to the CURRENT address, typed back (accounts/mailbox-proof.ts,
//      bound to this page session and to this purpose): whoever knows only the password
//      cannot move the account's mail elsewhere, and with it resets and the mailed code that
//      guards setting up an authenticator;
//   3. the link mailed to the NEW address (accounts/email-changes.ts), opened signed in as
//      the account that asked (a sign-in first comes back to it): otherwise whoever asked
//      for someone's new address from another account could have them confirm it there.
// Opening the link shows what will change and a button; only the POST makes the change, so
// a mail scanner that fetches links changes nothing. After the change the old address is
// told; every step is audited. An address that has an account gets the same answers and no
// mail. Codes typed are attempts of the login throttle; mails are counted (the code per
// account, the link per new mailbox).

const steps = pageStep('portcullis.account-address', { mailbox: z.string(), email: z.string() });
/** What a proof of the current mailbox is bound to besides the account: this page session, for this purpose. */
const binding = (session: PageSession) => `${session.grantId}:address`;

const requestForm = z.object({ email: z.string().max(1000).catch(''), current: z.string().max(4096).catch('') });
const codeForm = z.object({ code: z.string().max(64).catch('') });
const confirmForm = z.object({ token: z.string().max(256).catch('') });

export interface EmailChangePages {
  /** Step 1: the password and the new address; a code mailed to the current one. */
  request(ctx: Context, session: PageSession): Promise<void>;
  /** Step 2: that code back; the link mailed to the new address. */
  proveCurrentMailbox(ctx: Context, session: PageSession): Promise<void>;
  /** Step 3: the link, opened: what will change, and a button. */
  show(ctx: Context, session: PageSession): Promise<void>;
  confirm(ctx: Context, session: PageSession): Promise<void>;
}

export function createEmailChangePages(deps: {
  readonly emailChanges: Pick<EmailChanges, 'request' | 'peek' | 'confirm'>;
  readonly accounts: Pick<AccountService, 'findByIdOrEmail'>;
  readonly mailboxProofs: MailboxProofs;
  readonly checkCurrentPassword: CurrentPasswordCheck;
  readonly attempt: ThrottledCode;
  /** Counts the codes mailed to the account (the mailbox-code count, as before an enrolment). */
  readonly codeThrottle: MailThrottle;
  /** Counts the links mailed to a new address (per mailbox and network; sign-up's count). */
  readonly linkThrottle: ResetThrottle;
  readonly render: RenderPage;
  readonly audit: AuditSink;
  readonly mailer: Mailer;
  readonly issuer: string;
  /** Mail reaches people (SMTP_URL, or development's log): without, no change of address here. */
  readonly mailReachesPeople: boolean;
  /** The account page with an error in its address section. */
  readonly showPage: (ctx: Context, session: PageSession, error: string, status: number) => Promise<void>;
}): EmailChangePages {
  const issuerHost = new URL(deps.issuer).host;
  const actedBy = (ctx: Context, session: PageSession) => ({ actor: session.account.id, accountId: session.account.id, ...requestFacts(ctx) });

  function sendCodePage(ctx: Context, session: PageSession, email: string, error?: string, status = 200): void {
    const { tm } = languageModel(pageLocale(ctx));
    sendMailedCodePage(ctx, deps.render, session, { lead: tm('account.email.code-lead', { email, current: session.account.email }), action: '/account/email/code', error }, status);
  }

  function dead(ctx: Context): void {
    // reset-outcome shows `lead` as markup: tm escapes the sentence and its values.
    const { t, tm } = languageModel(pageLocale(ctx));
    sendPage(ctx, deps.render, 'reset-outcome', { title: t('account.email.link-dead.title'), tone: 'warning', lead: tm('account.email.link-dead.lead', {}), action: { url: '/account', label: t('account.email.to-account') } }, 400);
  }

  return {
    async request(ctx, session) {
      const t = translator(pageLocale(ctx));
      if (!deps.mailReachesPeople) return deps.showPage(ctx, session, t('account.email.unavailable'), 400);
      const { email, current } = requestForm.parse(ctx.request.body ?? {});
      const { account } = session;
      const address = plainAddress(email);
      if (address === undefined) return deps.showPage(ctx, session, t('account.email.invalid'), 400);
      if (address === account.email) return deps.showPage(ctx, session, t('account.email.same'), 400);
      const refused = await deps.checkCurrentPassword(ctx, session, current);
      if (refused) return deps.showPage(ctx, session, refused.text, refused.status);
      const verdict = await deps.codeThrottle.take({ email: account.email, ip: ctx.ip });
      if (!verdict.allowed) return deps.showPage(ctx, session, t('account.code.wait', { wait: formatWait(t, verdict.retryAfterSeconds) }), 429);
      let sent = false;
      try {
        const proof = deps.mailboxProofs.issue(account.id, binding(session));
        sent = deps.mailer.send(addressChangeCodeMessage({ to: account.email, code: proof.code, newEmail: address, ttlSeconds: MAILBOX_CODE_TTL_MS / 1000, issuerHost }));
        if (sent) steps.keep(ctx, session, { mailbox: proof.sealed, email: address });
      } finally {
        await verdict.settle(sent);
      }
      if (!sent) return deps.showPage(ctx, session, t('account.code.unsent'), 503);
      deps.audit.record({ type: 'user.email_change_code_sent', ...actedBy(ctx, session), data: { email: address } });
      sendCodePage(ctx, session, address);
    },

    async proveCurrentMailbox(ctx, session) {
      const step = steps.read(ctx, session);
      if (!step) {
        ctx.status = 303;
        return ctx.redirect('/account');
      }
      const { code } = codeForm.parse(ctx.request.body ?? {});
      const { account } = session;
      const t = translator(pageLocale(ctx));
      const right = await deps.attempt(
        ctx,
        session,
        () => Promise.resolve(deps.mailboxProofs.check(account.id, binding(session), step.mailbox, code)),
        (error, status) => sendCodePage(ctx, session, step.email, error, status),
      );
      if (right === undefined) return;
      if (!right) {
        deps.audit.record({ type: 'user.email_change_failed', ...actedBy(ctx, session), data: { reason: 'wrong_code' } });
        return sendCodePage(ctx, session, step.email, t('account.code.failed'), 401);
      }
      // The new mailbox's count before the step is spent: refused, the code still works once the wait is over.
      const verdict = await deps.linkThrottle.take(ctx, { email: step.email, ip: ctx.ip });
      if (!verdict.allowed) return sendCodePage(ctx, session, step.email, t('account.email.link-wait', { wait: formatWait(t, verdict.retryAfterSeconds) }), 429);
      steps.drop(ctx);
      // An address with an account of its own gets nothing (the change could never be made);
      // the page says the same either way.
      const taken = (await deps.accounts.findByIdOrEmail(step.email)) !== undefined;
      let sent = false;
      if (!taken) {
        const token = await deps.emailChanges.request(account.id, step.email);
        const link = `${accountPageUrl(deps.issuer, '/account/email/confirm')}?token=${token}`;
        sent = deps.mailer.send(emailChangeMessage({ to: step.email, link, ttlSeconds: EMAIL_CHANGE_TTL_SECONDS, issuerHost }));
      }
      deps.audit.record({ type: 'user.email_change_requested', ...actedBy(ctx, session), data: { email: step.email, sent } });
      ctx.status = 303;
      ctx.redirect('/account?done=email');
    },

    async show(ctx, session) {
      const token = typeof ctx.query.token === 'string' ? ctx.query.token : '';
      const change = await deps.emailChanges.peek(token);
      if (change?.accountId !== session.account.id) return dead(ctx);
      const { t } = languageModel(pageLocale(ctx));
      sendPage(ctx, deps.render, 'email-change', {
        title: t('account.email.confirm.title'),
        email: change.email,
        current: session.account.email,
        token,
        csrf: issueCsrfToken(ctx, session.grantId, ACCOUNT_CSRF),
        csrfField: CSRF_FIELD,
      });
    },

    async confirm(ctx, session) {
      const { token } = confirmForm.parse(ctx.request.body ?? {});
      const outcome = await deps.emailChanges.confirm(token, session.account.id);
      if (!outcome.ok) {
        deps.audit.record({ type: 'user.email_change_failed', ...actedBy(ctx, session), data: { reason: outcome.reason } });
        return dead(ctx);
      }
      deps.audit.record({ type: 'user.email_changed', accountId: outcome.accountId, actor: outcome.accountId, data: { from: outcome.previousEmail, to: outcome.email }, ...requestFacts(ctx) });
      deps.mailer.send(emailChangedMessage({ to: outcome.previousEmail, newEmail: outcome.email, issuerHost }));
      const { t, tm } = languageModel(pageLocale(ctx));
      sendPage(ctx, deps.render, 'reset-outcome', {
        title: t('account.email.changed.title'),
        tone: 'success',
        lead: tm('account.email.changed.lead', { email: outcome.email }),
        action: { url: '/account', label: t('account.email.to-account') },
      });
    },
  };
}
