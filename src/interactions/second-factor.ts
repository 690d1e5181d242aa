import type { Context, Middleware } from 'koa';
import type { Client } from 'oidc-provider';
import QRCode from 'qrcode';
import { z } from 'zod';

import { MAILBOX_CODE_TTL_MS, type AccountRecord, type AccountService, type Passkeys, type SecondFactors } from '../accounts/index.ts';
import type { AuditSink } from '../audit/index.ts';
import { mailboxCodeMessage, secondFactorAddedMessage, secondFactorLockedMessage, type Mailer } from '../mail/index.ts';
import { MFA_REQUIRED_REASON, mfaRequest, PORTCULLIS_ACR_MFA, secondFactorRequired, type MfaRequirement } from '../oidc/index.ts';
import { clientDisplay } from './client-display.ts';
import { CSRF_FIELD, issueCsrfToken } from './csrf.ts';
import { readDeviceId, rememberDevice } from './device-cookie.ts';
import { interactionFacts, type Interaction, type InteractionLoader } from './load-interaction.ts';
import type { LoginThrottle } from './login-throttle.ts';
import { formatClock, formatWait, translator } from './messages/index.ts';
import { mailboxStep } from './mailbox-step.ts';
import { credentialOf, dropPendingLogin, keepPendingLogin, readPendingLogin, type PendingLogin } from './pending-login.ts';
import { pageLocale, sendPage, type RenderPage } from './render-page.ts';

// The second step of a sign-in: a code from the person's authenticator app, or one of
// their recovery codes; or, when a second factor is required and they have none, enrolling
// one right here. Rules:
// - only a sign-in whose password was right (or, for a step-up, whose session is the
//   person's and who already has an authenticator) gets here: pending-login.ts keeps who,
//   for this interaction only;
// - every code is an attempt of the login throttle for the account, as a password is: a
//   wrong code counts as a failure, a right one trusts this browser; enrolment codes too;
//   someone without the password never reaches this step, so no one can use it to lock a
//   person out beyond what the password throttle already allows;
// - one message for every refused code (wrong, replayed, spent recovery code), audited;
// - a second factor is asked of whoever has one. One is set up here only where the
//   deployment (MFA=required), a role the person holds (MFA_REQUIRED_ROLES) or the client
//   (require MFA) demands it, only after the
//   password was checked in this very sign-in (never over a session alone), and only after
//   the person typed back a code mailed to the account's address (accounts/mailbox-proof.ts:
//   a password alone must not bind an attacker's authenticator to someone who has none
//   yet); with a secret made for this sign-in; the owner is mailed and the event audited.
//   Where mail only reaches the log (production without SMTP_URL), no enrolment at all.
//   A request asking for MFA (acr_values, the claims parameter) never leads to enrolment:
//   whoever knows the password could bind their own authenticator. A voluntary request is answered with acr
//   pwd (the client reads acr); an essential one with unmet_authentication_requirements;
// - a passkey of the account's own is a second factor too (accounts/passkeys.ts: the
//   challenge is this sign-in's, spent once); its answers are attempts of the throttle as
//   codes are;
// - amr names only what was checked: pwd for a password given in this sign-in (for a
//   step-up, the session's own earlier password sign-in, as its amr recorded it), otp for a
//   code of the authenticator, hwk or swk for a passkey, mfa for any second factor; a
//   recovery code is pwd, mfa (RFC 8176 has no method for it). acr is the MFA one
//   (oidc/second-factor-policy.ts).

const codeForm = z.object({ code: z.string().max(64).catch('') });
const passkeyForm = z.object({ response: z.string().max(65_536).catch('') });

export interface SecondFactorDeps {
  readonly accounts: AccountService;
  readonly secondFactors: SecondFactors;
  /** Passkeys as a second factor; without them (or where unavailable), codes only. */
  readonly passkeys?: Passkeys | undefined;
  readonly render: RenderPage;
  readonly interactions: InteractionLoader;
  readonly throttle: LoginThrottle;
  readonly audit: AuditSink;
  /** Who must enrol at sign-in: everyone (required), holders of these roles; optional asks only those who enrolled. */
  readonly requirement: MfaRequirement;
  /** Tells the owner that an authenticator was added to their account; without it, no mail. */
  readonly mailer?: Mailer | undefined;
  /** The issuer, named in that mail. */
  readonly issuer?: string | undefined;
  /** Counts the codes mailed to an account before an enrolment (abuse/ implements it); without one, uncounted. */
  readonly mailThrottle?: MailThrottle | undefined;
  /**
   * Mail reaches people (SMTP_URL, or development's log): false in production without
   * SMTP_URL, where a mailed code would land in the log, so no one can enrol at sign-in.
   */
  readonly mailReachesPeople: boolean;
}

/**
 * One mail to an account, counted per account and address; refused: how long until another.
 * Allowed: `settle` says whether it was sent (one the queue refused does not count).
 */
export interface MailThrottle {
  take(
    attempt: { readonly email: string; readonly ip: string },
  ): Promise<{ readonly allowed: true; settle(sent: boolean): Promise<void> } | { readonly allowed: false; readonly retryAfterSeconds: number }>;
}

/** The pages' scripts for a passkey button: the WebAuthn library, then ours. */
export const PASSKEY_SCRIPTS = ['webauthn.js', 'passkey.js'];

const UNCOUNTED_MAIL: MailThrottle = { take: () => Promise.resolve({ allowed: true, settle: () => Promise.resolve() }) };
/** How long a sign-in waits when the mail queue was full. */
const MAIL_QUEUE_FULL_WAIT_MS = 60_000;

export interface SecondFactorPages {
  /**
   * After a right password: whether the sign-in goes on to a second factor (or ends with
   * an error). If so the browser is sent on (answered here); if not the caller finishes
   * with the password.
   */
  afterPassword(ctx: Context, details: Interaction, account: AccountRecord): Promise<boolean>;
  /** GET on a login prompt: the second-factor page when this sign-in is at that step; false to show the password form. */
  show(ctx: Context, details: Interaction, client: Client | undefined): Promise<boolean>;
  /** POST /code: a code or a recovery code. */
  readonly submitCode: Middleware;
  /** POST /passkey: the answer of one of the account's passkeys. */
  readonly submitPasskey: Middleware;
  /** POST /mailbox: the code mailed before an enrolment, proving the mailbox. */
  readonly submitMailboxCode: Middleware;
  /** POST /enrol: the first code of a new authenticator; the recovery codes, once. */
  readonly submitEnrolment: Middleware;
  /** POST /continue: after the recovery codes were shown, the sign-in finishes. */
  readonly finishEnrolment: Middleware;
}

type Method = 'otp' | 'recovery' | 'enrolment' | 'hwk' | 'swk';

/** The ID token's amr: only methods checked (see the rules above). */
export function amrFor(method: Method, password: boolean): string[] {
  const checked = method === 'recovery' ? [] : method === 'hwk' || method === 'swk' ? [method] : ['otp'];
  return [...(password ? ['pwd'] : []), ...checked, 'mfa'];
}

// The reasons the engine's login prompt gives when only a stronger acr is missing.
const STEP_UP_REASONS = new Set([MFA_REQUIRED_REASON, 'essential_acr', 'essential_acrs']);

export function createSecondFactorPages(deps: SecondFactorDeps): SecondFactorPages {
  const { accounts, secondFactors, render, interactions, throttle, audit } = deps;
  // Without a mailer nothing reaches anyone: as with mail only to the log, no enrolment here.
  const mailReachesPeople = deps.mailReachesPeople && deps.mailer !== undefined;
  const issuerHost = deps.issuer ? new URL(deps.issuer).host : 'Portcullis';

  const uidOf = (ctx: Context) => (ctx.params as { uid: string }).uid;
  /** Whether enrolment may happen in this sign-in: the deployment, a role or the client requires MFA, never the request alone. */
  const enrolmentRequired = (client: Client | undefined, account: AccountRecord) => secondFactorRequired(deps.requirement, client, account.roles);

  /** Only the second factor is missing: the session's person signed in with the password before. */
  const isStepUp = (details: Interaction) => {
    const reasons = details.prompt.reasons;
    return Boolean(details.session?.accountId) && reasons.includes(MFA_REQUIRED_REASON) && reasons.every((reason) => STEP_UP_REASONS.has(reason));
  };

  function common(ctx: Context, details: Interaction, client: Client | undefined) {
    const t = translator(pageLocale(ctx));
    return { t, model: { uid: details.uid, csrfField: CSRF_FIELD, csrf: issueCsrfToken(ctx, details.uid), client: clientDisplay(client, t) } };
  }

  /**
   * The page asking for the second factor the account has: a code (of the app, or a
   * recovery code) and, with passkeys, a button for one of them (a challenge of this sign-in).
   */
  async function sendCodePage(ctx: Context, details: Interaction, client: Client | undefined, accountId: string, error?: string, status = 200) {
    const { t, model } = common(ctx, details, client);
    const factors = await secondFactors.factors(accountId);
    const passkey = deps.passkeys?.available && factors.passkeys > 0 ? JSON.stringify(await deps.passkeys.authenticationOptions(details.uid, accountId)) : undefined;
    const codes = factors.totp || factors.recoveryCodes > 0 || !passkey;
    // What the person has decides what the page asks for: a passkey, a code of the app, or both.
    const lead = passkey ? (factors.totp ? 'mfa.lead.passkey-or-app' : 'mfa.lead.passkey') : 'mfa.lead';
    sendPage(ctx, render, 'second-factor', { ...model, title: t('mfa.title'), heading: t(passkey ? 'mfa.heading.passkey' : 'mfa.heading'), lead: t(lead, { client: model.client.name }), error, passkey, codes, scripts: passkey ? PASSKEY_SCRIPTS : undefined }, status);
  }

  /**
   * The page asking for the code mailed to the account; or, with no form, why none was:
   * mail reaches only the log here (so no enrolment), or too many were sent lately.
   */
  function sendMailboxPage(ctx: Context, details: Interaction, client: Client | undefined, found: Found, error?: string, status = 200) {
    const { t, model } = common(ctx, details, client);
    const { account, pending } = found;
    const locale = pageLocale(ctx);
    const waitSeconds = Math.max(1, Math.ceil(((pending.mailboxWaitUntil ?? 0) - Date.now()) / 1000));
    const waiting = { email: account.email, time: formatClock(locale, new Date(Date.now() + waitSeconds * 1000)), wait: formatWait(t, waitSeconds) };
    const notice = !mailReachesPeople
      ? t('mfa.mailbox.unavailable', { client: model.client.name })
      : pending.mailbox
        ? undefined
        : t(pending.mailboxUnsent ? 'mfa.mailbox.unsent' : 'mfa.mailbox.wait', waiting);
    // Waiting: a link to this sign-in again, which shows the password form once the wait is over.
    const retry = notice && mailReachesPeople ? `/interaction/${encodeURIComponent(details.uid)}` : undefined;
    sendPage(ctx, render, 'mailbox-code', { ...model, title: t('mfa.mailbox.heading'), email: account.email, notice, retry, error }, status);
  }

  /** The enrolment page with this sign-in's own secret (made now, or the one it shows already). */
  async function sendEnrolPage(ctx: Context, details: Interaction, client: Client | undefined, found: Found, error?: string, status = 200) {
    const { account, pending } = found;
    const enrolment = await secondFactors.startEnrolment(account, details.uid, pending.enrolment);
    if (!enrolment) return sendCodePage(ctx, details, client, account.id, error, status);
    if (enrolment.created) {
      keepPendingLogin(ctx, { ...pending, enrolment: enrolment.sealed });
      audit.record({ type: 'mfa.enrolment_started', actor: account.id, accountId: account.id, ...interactionFacts(ctx, details), data: { factor: 'totp' } });
    }
    const { t, model } = common(ctx, details, client);
    // SVG markup made by the library from our own URI: paths only, no script, no style.
    const qrSvg = await QRCode.toString(enrolment.uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
    const key = enrolment.secret.match(/.{1,4}/g)!.join(' ');
    sendPage(ctx, render, 'enrol-totp', { ...model, title: t('mfa.enrol.title'), qrSvg, key, error }, status);
  }

  /**
   * Before an enrolment: a code to the account's address, its sealed copy for the pending
   * sign-in to keep. Made only here, right after a password checked in this sign-in, and
   * counted per account as reset mails are (3 at once, then one every 5 minutes): whoever
   * has the password cannot flood the owner's inbox or the mail queue. Refused, or the
   * queue full: the time a new sign-in may try. Nothing where mail would only reach the log.
   */
  async function mailMailboxCode(ctx: Context, details: Interaction, account: AccountRecord): Promise<Pick<PendingLogin, 'mailbox' | 'mailboxWaitUntil' | 'mailboxUnsent'>> {
    if (!mailReachesPeople || !deps.mailer) return {};
    // The same sign-in sent again (a resubmitted form): the code already mailed for it, not another.
    const kept = readPendingLogin(ctx, details.uid);
    if (kept?.mailbox && kept.accountId === account.id && kept.credential === credentialOf(account)) return { mailbox: kept.mailbox };
    const verdict = await (deps.mailThrottle ?? UNCOUNTED_MAIL).take({ email: account.email, ip: ctx.ip });
    if (!verdict.allowed) return { mailboxWaitUntil: Date.now() + verdict.retryAfterSeconds * 1000 };
    let sent = false;
    let sealed: string;
    try {
      const proof = secondFactors.mailboxProofs.issue(account.id, details.uid);
      sealed = proof.sealed;
      sent = deps.mailer.send(mailboxCodeMessage({ to: account.email, code: proof.code, ttlSeconds: MAILBOX_CODE_TTL_MS / 1000, issuerHost }));
    } finally {
      // Settled whatever happened: a reservation left open would hold the account's count.
      await verdict.settle(sent);
    }
    if (!sent) return { mailboxWaitUntil: Date.now() + MAIL_QUEUE_FULL_WAIT_MS, mailboxUnsent: true };
    audit.record({ type: 'mfa.mailbox_code_sent', actor: account.id, accountId: account.id, ...interactionFacts(ctx, details) });
    return { mailbox: sealed };
  }

  interface Found {
    readonly pending: PendingLogin;
    readonly account: AccountRecord;
  }

  /**
   * The pending sign-in of this interaction and its enabled account, whose password has not
   * changed since; or undefined (the password form again).
   */
  async function pendingAccount(ctx: Context, uid: string): Promise<Found | undefined> {
    const pending = readPendingLogin(ctx, uid);
    if (!pending) return undefined;
    const account = await accounts.findById(pending.accountId);
    if (!account || account.disabled || credentialOf(account) !== pending.credential) {
      dropPendingLogin(ctx, uid);
      return undefined;
    }
    return { pending, account };
  }

  async function finish(ctx: Context, details: Interaction, found: Found, method: Method) {
    const { account, pending } = found;
    // A step-up stands on the session's own sign-in: pwd only if that one checked the password.
    const password = pending.password || (details.session?.accountId === account.id && Boolean(details.session.amr?.includes('pwd')));
    const amr = amrFor(method, password);
    dropPendingLogin(ctx, details.uid);
    audit.record({ type: 'login.success', actor: account.id, accountId: account.id, ...interactionFacts(ctx, details), data: { amr, secondFactor: method } });
    await interactions.finish(ctx, { login: { accountId: account.id, amr, acr: PORTCULLIS_ACR_MFA } }, false);
  }

  /** The page again, for a browser that posted without a pending sign-in (expired, or none). */
  function backToStart(ctx: Context, uid: string) {
    ctx.redirect(`/interaction/${encodeURIComponent(uid)}`);
    ctx.status = 303;
  }

  async function loadLoginPrompt(ctx: Context): Promise<Interaction> {
    const details = await interactions.load(ctx);
    if (details.prompt.name !== 'login') ctx.throw(400, 'this sign-in is not asking for a second factor');
    return details;
  }

  /** A code is an attempt at the account, throttled as a password is: the reservation, or the page already answered 429. */
  async function reserveAttempt(ctx: Context, account: AccountRecord, refusedPage: (message: string) => Promise<void> | void) {
    const reservation = await throttle.reserve(ctx, { email: account.email, ip: ctx.ip, device: readDeviceId(ctx) });
    if (!reservation.refused) return reservation;
    const locale = pageLocale(ctx);
    const t = translator(locale);
    const until = Date.now() + reservation.retryAfterSeconds * 1000;
    await refusedPage(t(`login.locked.${reservation.reason}`, { time: formatClock(locale, new Date(until)), wait: formatWait(t, reservation.retryAfterSeconds) }));
    return undefined;
  }

  return {
    async afterPassword(ctx, details, account) {
      const state = await secondFactors.state(account.id);
      const client = await interactions.client(ctx, details);
      if (state !== 'confirmed' && !enrolmentRequired(client, account)) {
        // Asked for by the request alone: never an enrolment (see the rules above).
        if (mfaRequest(details.params) !== 'essential') return false;
        audit.record({ type: 'mfa.unmet', actor: account.id, accountId: account.id, ...interactionFacts(ctx, details) });
        await interactions.finish(ctx, { error: 'unmet_authentication_requirements', error_description: 'a second factor is required and the account has none' }, false);
        return true;
      }
      const pending = { uid: details.uid, accountId: account.id, password: true, credential: credentialOf(account) };
      keepPendingLogin(ctx, state === 'confirmed' ? pending : { ...pending, ...(await mailMailboxCode(ctx, details, account)) });
      backToStart(ctx, details.uid);
      return true;
    },

    async show(ctx, details, client) {
      let found = await pendingAccount(ctx, details.uid);
      if (!found && isStepUp(details)) {
        // A session alone proves no more than the session: it may add a code of an
        // authenticator the person has, never set one up. Without one, the password form.
        const account = await accounts.findById(details.session!.accountId);
        if (account && !account.disabled && (await secondFactors.state(account.id)) === 'confirmed') {
          const pending = { uid: details.uid, accountId: account.id, password: false, credential: credentialOf(account) };
          keepPendingLogin(ctx, pending);
          found = { pending: { ...pending, until: 0 }, account };
        }
      }
      if (!found) return false;
      const state = await secondFactors.state(found.account.id);
      if (state === 'confirmed') {
        await sendCodePage(ctx, details, client, found.account.id);
        return true;
      }
      if (found.pending.password && enrolmentRequired(client, found.account)) {
        const step = mailboxStep(found.pending, Date.now(), mailReachesPeople);
        if (step === 'enrol') {
          await sendEnrolPage(ctx, details, client, found);
          return true;
        }
        if (step !== 'password') {
          sendMailboxPage(ctx, details, client, found);
          return true;
        }
      }
      // No authenticator (an operator reset it meanwhile) and none may be set up here.
      dropPendingLogin(ctx, details.uid);
      return false;
    },

    async submitCode(ctx) {
      const { code } = codeForm.parse(ctx.request.body ?? {});
      const uid = uidOf(ctx);
      const details = await loadLoginPrompt(ctx);
      const found = await pendingAccount(ctx, uid);
      if (!found) return backToStart(ctx, uid);
      const { account } = found;
      const t = translator(pageLocale(ctx));
      const reservation = await reserveAttempt(ctx, account, async (message) => sendCodePage(ctx, details, await interactions.client(ctx, details), account.id, message, 429));
      if (!reservation) return;
      let outcome: Awaited<ReturnType<SecondFactors['verify']>>;
      try {
        outcome = await secondFactors.verify(account.id, code);
      } catch (error) {
        await reservation.released();
        throw error;
      }
      if (!outcome.ok) {
        await reservation.failed();
        audit.record({ type: 'mfa.failure', accountId: account.id, ...interactionFacts(ctx, details), data: { step: 'code' } });
        if (outcome.locked === 'now') {
          // Whoever typed them has the password: the owner hears of it once, when it locks.
          audit.record({ type: 'mfa.locked', accountId: account.id, ...interactionFacts(ctx, details) });
          deps.mailer?.send(secondFactorLockedMessage({ to: account.email, issuerHost }));
        }
        return sendCodePage(ctx, details, await interactions.client(ctx, details), account.id, t(outcome.locked ? 'mfa.locked' : 'mfa.failed'), 401);
      }
      await reservation.succeeded(rememberDevice(ctx));
      if (outcome.method === 'recovery') {
        audit.record({ type: 'mfa.recovery_code_used', actor: account.id, accountId: account.id, ...interactionFacts(ctx, details), data: { left: outcome.recoveryCodesLeft } });
      }
      audit.record({ type: 'mfa.success', actor: account.id, accountId: account.id, ...interactionFacts(ctx, details), data: { method: outcome.method } });
      await finish(ctx, details, found, outcome.method);
    },

    async submitPasskey(ctx) {
      const { response } = passkeyForm.parse(ctx.request.body ?? {});
      const uid = uidOf(ctx);
      const details = await loadLoginPrompt(ctx);
      const found = await pendingAccount(ctx, uid);
      if (!found || !deps.passkeys?.available) return backToStart(ctx, uid);
      const { account } = found;
      const passkeys = deps.passkeys;
      const client = await interactions.client(ctx, details);
      const reservation = await reserveAttempt(ctx, account, (message) => sendCodePage(ctx, details, client, account.id, message, 429));
      if (!reservation) return;
      let outcome: Awaited<ReturnType<Passkeys['authenticate']>>;
      try {
        outcome = await passkeys.authenticate(uid, response, account.id);
      } catch (error) {
        await reservation.released();
        throw error;
      }
      if (!outcome.ok) {
        await reservation.failed();
        audit.record({ type: 'mfa.failure', accountId: account.id, ...interactionFacts(ctx, details), data: { step: 'passkey', reason: outcome.reason } });
        return sendCodePage(ctx, details, client, account.id, translator(pageLocale(ctx))('mfa.passkey.failed'), 401);
      }
      await reservation.succeeded(rememberDevice(ctx));
      audit.record({ type: 'mfa.success', actor: account.id, accountId: account.id, ...interactionFacts(ctx, details), data: { method: outcome.method, passkey: outcome.passkeyId } });
      await finish(ctx, details, found, outcome.method);
    },

    async submitMailboxCode(ctx) {
      const { code } = codeForm.parse(ctx.request.body ?? {});
      const uid = uidOf(ctx);
      const details = await loadLoginPrompt(ctx);
      const found = await pendingAccount(ctx, uid);
      const client = found && (await interactions.client(ctx, details));
      // Only a sign-in with a code mailed for it has anything to check (no throttle spent otherwise).
      if (!found || !found.pending.password || found.pending.mailboxProven || !found.pending.mailbox || !enrolmentRequired(client, found.account)) return backToStart(ctx, uid);
      const { account, pending } = found;
      const reservation = await reserveAttempt(ctx, account, (message) => sendMailboxPage(ctx, details, client, found, message, 429));
      if (!reservation) return;
      if (!secondFactors.mailboxProofs.check(account.id, uid, pending.mailbox, code)) {
        await reservation.failed();
        audit.record({ type: 'mfa.failure', accountId: account.id, ...interactionFacts(ctx, details), data: { step: 'mailbox' } });
        return sendMailboxPage(ctx, details, client, found, translator(pageLocale(ctx))('mfa.mailbox.failed'), 401);
      }
      await reservation.succeeded(rememberDevice(ctx));
      audit.record({ type: 'mfa.mailbox_proven', actor: account.id, accountId: account.id, ...interactionFacts(ctx, details) });
      keepPendingLogin(ctx, { ...pending, mailbox: undefined, mailboxProven: true });
      backToStart(ctx, uid);
    },

    async submitEnrolment(ctx) {
      const { code } = codeForm.parse(ctx.request.body ?? {});
      const uid = uidOf(ctx);
      const details = await loadLoginPrompt(ctx);
      const found = await pendingAccount(ctx, uid);
      const client = found && (await interactions.client(ctx, details));
      if (!found || !found.pending.password || !found.pending.mailboxProven || !enrolmentRequired(client, found.account)) return backToStart(ctx, uid);
      const { account } = found;
      const t = translator(pageLocale(ctx));
      const reservation = await reserveAttempt(ctx, account, (message) => sendEnrolPage(ctx, details, client, found, message, 429));
      if (!reservation) return;
      let recoveryCodes: readonly string[] | undefined;
      try {
        recoveryCodes = await secondFactors.confirmEnrolment(account.id, uid, found.pending.enrolment, code);
      } catch (error) {
        await reservation.released();
        throw error;
      }
      if (!recoveryCodes) {
        await reservation.failed();
        audit.record({ type: 'mfa.failure', accountId: account.id, ...interactionFacts(ctx, details), data: { step: 'enrolment' } });
        return sendEnrolPage(ctx, details, client, found, t('mfa.failed'), 401);
      }
      await reservation.succeeded(rememberDevice(ctx));
      audit.record({ type: 'mfa.enrolled', actor: account.id, accountId: account.id, ...interactionFacts(ctx, details), data: { factor: 'totp', recoveryCodes: recoveryCodes.length } });
      deps.mailer?.send(secondFactorAddedMessage({ to: account.email, issuerHost }));
      keepPendingLogin(ctx, { uid, accountId: account.id, password: true, credential: found.pending.credential, until: found.pending.until, enrolled: true });
      const { model } = common(ctx, details, client);
      sendPage(ctx, render, 'recovery-codes', { ...model, title: t('mfa.codes.title'), codes: recoveryCodes });
    },

    async finishEnrolment(ctx) {
      const uid = uidOf(ctx);
      const details = await loadLoginPrompt(ctx);
      const found = await pendingAccount(ctx, uid);
      // The authenticator it enrolled must still be there: an operator may have reset it since.
      if (!found?.pending.enrolled || (await secondFactors.state(found.account.id)) !== 'confirmed') return backToStart(ctx, uid);
      await finish(ctx, details, found, 'enrolment');
    },
  };
}
