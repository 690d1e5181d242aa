import type { Context } from 'koa';
import QRCode from 'qrcode';
import { z } from 'zod';

import { MAILBOX_CODE_TTL_MS, MAX_PASSKEYS, passkeyNameSchema, type Passkeys, type SecondFactors } from '../accounts/index.ts';
import { requestFacts, type AuditSink } from '../audit/index.ts';
import { CSRF_FIELD, formatWait, issueCsrfToken, languageModel, type MailThrottle, pageLocale, type RenderPage, sendPage, translator } from '../interactions/index.ts';
import { mailboxCodeMessage, secondFactorAddedMessage, type Mailer } from '../mail/index.ts';
import { ACCOUNT_CSRF } from './account-page.ts';
import type { CurrentPasswordCheck } from './current-password.ts';
import { sendMailedCodePage } from './mailed-code-page.ts';
import { actedOnPage, backToAccountPage } from './page-answers.ts';
import type { PageSession } from './page-session.ts';
import { pageStep } from './page-step.ts';
import type { ThrottledCode } from './throttled-code.ts';

// Setting up an authenticator app (TOTP) from the account page, for a person who has none,
// or adding a passkey (and, with the first two proofs, removing the app or a passkey, or new
// recovery codes: factor-management.ts): the same three proofs as at a sign-in that requires one
// (interactions/second-factor.ts), so a stolen page session, or a password alone, binds no
// one else's app or key to the account:
//   1. the current password (current-password.ts);
//   2. a ten-digit code mailed to the account's address, typed back (accounts/mailbox-proof.ts;
//      mails counted per account, as at a sign-in);
//   3. a code from the new app, for a secret made for this page session only; or the new
//      passkey's answer to a challenge of this page session (passkey-setup.ts).
// Every code typed is an attempt of the login throttle for the account; wrong ones are
// audited. What the steps have proved is kept sealed in a signed cookie of this page
// session (ten minutes), never stored. Then ten recovery codes are shown, once, and the
// owner is mailed. Where mail reaches no one (production without SMTP_URL), no setup here.

/**
 * The changes to second factors that take the proofs: setting up an app, adding a passkey,
 * removing the app, new recovery codes, removing a passkey (factor-management.ts). Every
 * one of them could hand a factor to whoever makes it, or take the owner's away.
 */
export const FACTOR_CHANGES = ['app', 'passkey', 'remove-app', 'renew-codes', 'remove-passkey'] as const;
export type Factor = (typeof FACTOR_CHANGES)[number];

/** What the steps have proved, and which change they are for (a passkey's name as given, or the one to remove). */
export const factorSteps = pageStep('portcullis.account-enrol', {
  factor: z.enum(FACTOR_CHANGES).default('app'),
  name: z.string().optional(),
  target: z.string().optional(),
  mailbox: z.string().optional(),
  proven: z.boolean().optional(),
  enrolment: z.string().optional(),
  /** The passkey's registration challenge the ceremony page showed (passkey-setup.ts). */
  challenge: z.string().optional(),
});
const steps = factorSteps;

// An id as long as WebAuthn allows (1023 bytes, 1364 in base64url): every stored one fits.
const startForm = z.object({ current: z.string().max(4096).catch(''), name: z.string().max(1000).catch(''), id: z.string().max(2048).catch('') });
const codeForm = z.object({ code: z.string().max(64).catch('') });

/** What the mailed-code page says the code is for. */
const MAILBOX_LEADS = {
  app: 'account.authenticator.mailbox-lead',
  passkey: 'account.passkeys.mailbox-lead',
  'remove-app': 'account.authenticator.remove-lead',
  'renew-codes': 'account.recovery.renew-lead',
  'remove-passkey': 'account.passkeys.remove-lead',
} as const satisfies Record<Factor, string>;

export interface AuthenticatorSetup {
  /** The current password (and a passkey's name, or the passkey to remove): a code mailed to the account. */
  start(ctx: Context, session: PageSession, factor: Factor): Promise<void>;
  /** That code back: the app's secret, the passkey's ceremony, or the change made. */
  proveMailbox(ctx: Context, session: PageSession): Promise<void>;
  confirm(ctx: Context, session: PageSession): Promise<void>;
}

export function createAuthenticatorSetup(deps: {
  readonly secondFactors: SecondFactors;
  readonly checkCurrentPassword: CurrentPasswordCheck;
  /** Each code typed, counted by the login throttle. */
  readonly attempt: ThrottledCode;
  readonly mailThrottle: MailThrottle;
  readonly mailer: Mailer;
  readonly audit: AuditSink;
  readonly render: RenderPage;
  readonly issuer: string;
  readonly mailReachesPeople: boolean;
  /** The account page with an error in the factor's section (a refused password, no mail). */
  readonly showPage: (ctx: Context, session: PageSession, factor: Factor, error: string, status: number, target?: string) => Promise<void>;
  /** Passkeys: whether they work here at all, and the account's own. */
  readonly passkeys: Pick<Passkeys, 'available' | 'list'>;
  /** The passkey's ceremony, once the mailbox is proven (passkey-setup.ts). */
  readonly showPasskeyCeremony: (ctx: Context, session: PageSession, name: string) => Promise<void>;
  /** A removal or new recovery codes, once the mailbox is proven (factor-management.ts). */
  readonly finishChange: (ctx: Context, session: PageSession, change: 'remove-app' | 'renew-codes' | 'remove-passkey', target: string | undefined) => Promise<void>;
}): AuthenticatorSetup {
  const issuerHost = new URL(deps.issuer).host;
  const facts = actedOnPage;
  const backToPage = (ctx: Context) => backToAccountPage(ctx);

  function sendStep(ctx: Context, session: PageSession, model: Record<string, unknown>, status = 200): void {
    const t = translator(pageLocale(ctx));
    sendPage(ctx, deps.render, 'account-authenticator', { title: t('mfa.enrol.title'), csrf: issueCsrfToken(ctx, session.grantId, ACCOUNT_CSRF), csrfField: CSRF_FIELD, ...model }, status);
  }

  function sendMailboxStep(ctx: Context, session: PageSession, factor: Factor, error?: string, status = 200): void {
    const { tm } = languageModel(pageLocale(ctx));
    const lead = tm(MAILBOX_LEADS[factor], { email: session.account.email });
    sendMailedCodePage(ctx, deps.render, session, { lead, action: '/account/authenticator/mailbox', error }, status);
  }

  async function sendScan(ctx: Context, session: PageSession, sealed: string | undefined, error?: string, status = 200): Promise<void> {
    const enrolment = await deps.secondFactors.startEnrolment(session.account, session.grantId, sealed);
    if (!enrolment) return backToPage(ctx); // one was set up meanwhile
    if (enrolment.created) {
      steps.keep(ctx, session, { factor: 'app', proven: true, enrolment: enrolment.sealed });
      deps.audit.record({ type: 'mfa.enrolment_started', ...facts(ctx, session), data: { factor: 'totp', via: 'account_page' } });
    }
    // SVG markup made by the library from our own URI: paths only, no script, no style.
    const qrSvg = await QRCode.toString(enrolment.uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
    sendStep(ctx, session, { step: 'scan', qrSvg, key: enrolment.secret.match(/.{1,4}/g)!.join(' '), error }, status);
  }

  const { attempt } = deps;

  /** Whether the change has anything to act on (else back to the page, nothing said): undefined, or the passkey to remove. */
  async function applies(session: PageSession, factor: Factor, id: string): Promise<{ target?: string; full?: boolean } | undefined> {
    const factors = await deps.secondFactors.factors(session.account.id);
    if (factor === 'app') return factors.totp ? undefined : {};
    if (factor === 'remove-app') return factors.totp ? {} : undefined;
    if (factor === 'renew-codes') return factors.totp || factors.passkeys > 0 ? {} : undefined;
    if (factor === 'passkey') return factors.passkeys >= MAX_PASSKEYS ? { full: true } : {};
    if (factor === 'remove-passkey') {
      // Only one of the account's own: any other id does nothing.
      const own = (await deps.passkeys.list(session.account.id)).find((passkey) => passkey.id === id);
      return own ? { target: own.id } : undefined;
    }
    return {};
  }

  return {
    async start(ctx, session, factor) {
      const t = translator(pageLocale(ctx));
      if (!deps.mailReachesPeople) return deps.showPage(ctx, session, factor, t(factor === 'passkey' ? 'account.passkeys.unavailable' : 'account.authenticator.unavailable'), 400);
      if (factor === 'passkey' && !deps.passkeys.available) return deps.showPage(ctx, session, factor, t('account.passkeys.not-here'), 400);
      const form = startForm.parse(ctx.request.body ?? {});
      const change = await applies(session, factor, form.id);
      if (!change) return backToPage(ctx);
      if (change.full) return deps.showPage(ctx, session, factor, t('account.passkeys.too-many'), 409);
      const name = factor === 'passkey' ? passkeyNameSchema.safeParse(form.name) : undefined;
      if (name && !name.success) return deps.showPage(ctx, session, factor, t('account.passkeys.name-invalid'), 400);
      const refused = await deps.checkCurrentPassword(ctx, session, form.current);
      if (refused) return deps.showPage(ctx, session, factor, refused.text, refused.status, change.target);
      const verdict = await deps.mailThrottle.take({ email: session.account.email, ip: ctx.ip });
      if (!verdict.allowed) return deps.showPage(ctx, session, factor, t('account.code.wait', { wait: formatWait(t, verdict.retryAfterSeconds) }), 429);
      let sent = false;
      try {
        const proof = deps.secondFactors.mailboxProofs.issue(session.account.id, session.grantId);
        const purpose = factor === 'app' || factor === 'passkey' ? 'setup' : 'change';
        sent = deps.mailer.send(mailboxCodeMessage({ to: session.account.email, code: proof.code, ttlSeconds: MAILBOX_CODE_TTL_MS / 1000, issuerHost, purpose }));
        if (sent) steps.keep(ctx, session, { factor, name: name?.data, target: change.target, mailbox: proof.sealed });
      } finally {
        await verdict.settle(sent);
      }
      if (!sent) return deps.showPage(ctx, session, factor, t('account.code.unsent'), 503);
      deps.audit.record({ type: 'mfa.mailbox_code_sent', ...facts(ctx, session) });
      sendMailboxStep(ctx, session, factor);
    },

    async proveMailbox(ctx, session) {
      const step = steps.read(ctx, session);
      if (!step?.mailbox) return backToPage(ctx);
      const { code } = codeForm.parse(ctx.request.body ?? {});
      const t = translator(pageLocale(ctx));
      const right = await attempt(
        ctx,
        session,
        () => Promise.resolve(deps.secondFactors.mailboxProofs.check(session.account.id, session.grantId, step.mailbox, code)),
        (error, status) => sendMailboxStep(ctx, session, step.factor, error, status),
      );
      if (right === undefined) return;
      if (!right) {
        deps.audit.record({ type: 'mfa.failure', accountId: session.account.id, ...requestFacts(ctx), data: { step: 'mailbox', via: 'account_page' } });
        return sendMailboxStep(ctx, session, step.factor, t('account.code.failed'), 401);
      }
      deps.audit.record({ type: 'mfa.mailbox_proven', ...facts(ctx, session) });
      if (step.factor === 'app') return sendScan(ctx, session, undefined);
      if (step.factor === 'passkey') return step.name ? deps.showPasskeyCeremony(ctx, session, step.name) : backToPage(ctx);
      // A removal or new codes: made now, the step spent.
      steps.drop(ctx);
      await deps.finishChange(ctx, session, step.factor, step.target);
    },

    async confirm(ctx, session) {
      const step = steps.read(ctx, session);
      if (!step?.proven || step.factor !== 'app' || !step.enrolment) return backToPage(ctx);
      if ((await deps.secondFactors.factors(session.account.id)).totp) {
        // Set up meanwhile, from another browser of this page session: say so, never silently.
        steps.drop(ctx);
        return deps.showPage(ctx, session, 'app', translator(pageLocale(ctx))('account.authenticator.already'), 409);
      }
      const sealed = step.enrolment;
      const { code } = codeForm.parse(ctx.request.body ?? {});
      const t = translator(pageLocale(ctx));
      let codes: readonly string[] | undefined;
      let setUpMeanwhile = false;
      const right = await attempt(
        ctx,
        session,
        async () => {
          codes = await deps.secondFactors.confirmEnrolment(session.account.id, session.grantId, sealed, code);
          // Refused because another browser confirmed at this very moment: no wrong code.
          setUpMeanwhile = !codes && (await deps.secondFactors.factors(session.account.id)).totp;
          return codes !== undefined || setUpMeanwhile;
        },
        (error, status) => sendScan(ctx, session, sealed, error, status),
      );
      if (right === undefined) return;
      if (setUpMeanwhile) {
        steps.drop(ctx);
        return deps.showPage(ctx, session, 'app', t('account.authenticator.already'), 409);
      }
      if (!right || !codes) {
        deps.audit.record({ type: 'mfa.failure', accountId: session.account.id, ...requestFacts(ctx), data: { step: 'enrolment', via: 'account_page' } });
        return sendScan(ctx, session, sealed, t('mfa.failed'), 401);
      }
      steps.drop(ctx);
      deps.audit.record({ type: 'mfa.enrolled', ...facts(ctx, session), data: { factor: 'totp', recoveryCodes: codes.length, via: 'account_page' } });
      deps.mailer.send(secondFactorAddedMessage({ to: session.account.email, issuerHost }));
      sendStep(ctx, session, { step: 'codes', codes });
    },
  };
}
