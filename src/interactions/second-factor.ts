import type { Context, Middleware } from 'koa';
import type { Client } from 'oidc-provider';
import QRCode from 'qrcode';
import { z } from 'zod';

import type { AccountRecord, AccountService, SecondFactors } from '../accounts/index.ts';
import type { AuditSink } from '../audit/index.ts';
import { clientRequiresMfa, MFA_REQUIRED_REASON, PORTCULLIS_ACR_MFA, requestsMfa } from '../oidc/index.ts';
import { clientDisplay } from './client-display.ts';
import { CSRF_FIELD, issueCsrfToken } from './csrf.ts';
import { readDeviceId, rememberDevice } from './device-cookie.ts';
import { interactionFacts, type Interaction, type InteractionLoader } from './load-interaction.ts';
import type { LoginThrottle } from './login-throttle.ts';
import { formatClock, formatWait, translator } from './messages/index.ts';
import { dropPendingLogin, keepPendingLogin, readPendingLogin, type PendingLogin } from './pending-login.ts';
import { pageLocale, sendPage, type RenderPage } from './render-page.ts';

// The second step of a sign-in: a code from the person's authenticator app, or one of
// their recovery codes; or, when a second factor is required and they have none, enrolling
// one right here. Rules:
// - only a sign-in whose password was right (or, for a step-up, whose session is the
//   person's) gets here: pending-login.ts keeps who, for this interaction only;
// - every code is an attempt of the login throttle for the account, as a password is: a
//   wrong code counts as a failure, a right one trusts this browser; someone without the
//   password never reaches this step, so no one can use it to lock a person out beyond
//   what the password throttle already allows;
// - one message for every refused code (wrong, replayed, spent recovery code);
// - a second factor is asked of whoever has one; one is set up here when the deployment
//   (MFA=required), the client (require MFA) or the request (acr_values) requires it;
// - the login result carries amr pwd, otp, mfa and the MFA acr (oidc/second-factor-policy.ts).

const codeForm = z.object({ code: z.string().max(64).catch('') });
const AMR_MFA = ['pwd', 'otp', 'mfa'];

export interface SecondFactorDeps {
  readonly accounts: AccountService;
  readonly secondFactors: SecondFactors;
  readonly render: RenderPage;
  readonly interactions: InteractionLoader;
  readonly throttle: LoginThrottle;
  readonly audit: AuditSink;
  /** MFA: required makes everyone enrol at sign-in; optional asks only those who enrolled. */
  readonly mode: 'optional' | 'required';
}

export interface SecondFactorPages {
  /**
   * After a right password: whether the sign-in goes on to a second factor. If so the
   * browser is sent to it (answered here); if not the caller finishes with the password.
   */
  afterPassword(ctx: Context, details: Interaction, account: AccountRecord): Promise<boolean>;
  /** GET on a login prompt: the second-factor page when this sign-in is at that step; false to show the password form. */
  show(ctx: Context, details: Interaction, client: Client | undefined): Promise<boolean>;
  /** POST /code: a code or a recovery code. */
  readonly submitCode: Middleware;
  /** POST /enrol: the first code of a new authenticator; the recovery codes, once. */
  readonly submitEnrolment: Middleware;
  /** POST /continue: after the recovery codes were shown, the sign-in finishes. */
  readonly finishEnrolment: Middleware;
}

export function createSecondFactorPages(deps: SecondFactorDeps): SecondFactorPages {
  const { accounts, secondFactors, render, interactions, throttle, audit } = deps;

  const uidOf = (ctx: Context) => (ctx.params as { uid: string }).uid;
  const mfaAsked = (details: Interaction, client: Client | undefined) =>
    deps.mode === 'required' || clientRequiresMfa(client) || requestsMfa(details.params.acr_values);

  /** Only the second factor is missing: the session's person signed in with the password before. */
  const isStepUp = (details: Interaction) => {
    const reasons = details.prompt.reasons;
    return Boolean(details.session?.accountId) && reasons.length > 0 && reasons.every((reason) => reason === MFA_REQUIRED_REASON);
  };

  function common(ctx: Context, details: Interaction, client: Client | undefined) {
    const t = translator(pageLocale(ctx));
    return { t, model: { uid: details.uid, csrfField: CSRF_FIELD, csrf: issueCsrfToken(ctx, details.uid), client: clientDisplay(client, t) } };
  }

  function sendCodePage(ctx: Context, details: Interaction, client: Client | undefined, error?: string, status = 200) {
    const { t, model } = common(ctx, details, client);
    sendPage(ctx, render, 'second-factor', { ...model, title: t('mfa.title'), error }, status);
  }

  async function sendEnrolPage(ctx: Context, details: Interaction, client: Client | undefined, account: AccountRecord, error?: string, status = 200) {
    const enrolment = await secondFactors.startEnrolment(account);
    if (!enrolment) return sendCodePage(ctx, details, client, error, status);
    if (enrolment.created) audit.record({ type: 'mfa.enrolment_started', actor: account.id, accountId: account.id, ...interactionFacts(ctx, details), data: { factor: 'totp' } });
    const { t, model } = common(ctx, details, client);
    // SVG markup made by the library from our own URI: paths only, no script, no style.
    const qrSvg = await QRCode.toString(enrolment.uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
    const key = enrolment.secret.match(/.{1,4}/g)!.join(' ');
    sendPage(ctx, render, 'enrol-totp', { ...model, title: t('mfa.enrol.title'), qrSvg, key, error }, status);
  }

  /** The pending sign-in of this interaction and its enabled account, or undefined (the password form again). */
  async function pendingAccount(ctx: Context, uid: string): Promise<{ pending: PendingLogin; account: AccountRecord } | undefined> {
    const pending = readPendingLogin(ctx, uid);
    if (!pending) return undefined;
    const account = await accounts.findById(pending.accountId);
    if (!account || account.disabled) {
      dropPendingLogin(ctx, uid);
      return undefined;
    }
    return { pending, account };
  }

  async function finish(ctx: Context, details: Interaction, account: AccountRecord, method: string) {
    dropPendingLogin(ctx, details.uid);
    audit.record({ type: 'login.success', actor: account.id, accountId: account.id, ...interactionFacts(ctx, details), data: { amr: AMR_MFA, secondFactor: method } });
    await interactions.finish(ctx, { login: { accountId: account.id, amr: AMR_MFA, acr: PORTCULLIS_ACR_MFA } }, false);
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

  return {
    async afterPassword(ctx, details, account) {
      const state = await secondFactors.state(account.id);
      if (state !== 'confirmed' && !mfaAsked(details, await interactions.client(ctx, details))) return false;
      keepPendingLogin(ctx, { uid: details.uid, accountId: account.id });
      backToStart(ctx, details.uid);
      return true;
    },

    async show(ctx, details, client) {
      let found = await pendingAccount(ctx, details.uid);
      if (!found && isStepUp(details)) {
        const account = await accounts.findById(details.session!.accountId);
        if (account && !account.disabled) {
          keepPendingLogin(ctx, { uid: details.uid, accountId: account.id });
          found = { pending: { uid: details.uid, accountId: account.id, until: 0 }, account };
        }
      }
      if (!found) return false;
      const state = await secondFactors.state(found.account.id);
      if (state === 'confirmed') sendCodePage(ctx, details, client);
      else await sendEnrolPage(ctx, details, client, found.account);
      return true;
    },

    async submitCode(ctx) {
      const { code } = codeForm.parse(ctx.request.body ?? {});
      const uid = uidOf(ctx);
      const details = await loadLoginPrompt(ctx);
      const found = await pendingAccount(ctx, uid);
      if (!found) return backToStart(ctx, uid);
      const { account } = found;
      const t = translator(pageLocale(ctx));
      const reservation = await throttle.reserve(ctx, { email: account.email, ip: ctx.ip, device: readDeviceId(ctx) });
      if (reservation.refused) {
        const until = Date.now() + reservation.retryAfterSeconds * 1000;
        const locale = pageLocale(ctx);
        const message = t(`login.locked.${reservation.reason}`, { time: formatClock(locale, new Date(until)), wait: formatWait(t, reservation.retryAfterSeconds) });
        return sendCodePage(ctx, details, await interactions.client(ctx, details), message, 429);
      }
      let outcome: Awaited<ReturnType<SecondFactors['verify']>>;
      try {
        outcome = await secondFactors.verify(account.id, code);
      } catch (error) {
        await reservation.released();
        throw error;
      }
      if (!outcome.ok) {
        await reservation.failed();
        audit.record({ type: 'mfa.failure', accountId: account.id, ...interactionFacts(ctx, details) });
        return sendCodePage(ctx, details, await interactions.client(ctx, details), t('mfa.failed'), 401);
      }
      await reservation.succeeded(rememberDevice(ctx));
      if (outcome.method === 'recovery') {
        audit.record({ type: 'mfa.recovery_code_used', actor: account.id, accountId: account.id, ...interactionFacts(ctx, details), data: { left: outcome.recoveryCodesLeft } });
      }
      audit.record({ type: 'mfa.success', actor: account.id, accountId: account.id, ...interactionFacts(ctx, details), data: { method: outcome.method } });
      await finish(ctx, details, account, outcome.method);
    },

    async submitEnrolment(ctx) {
      const { code } = codeForm.parse(ctx.request.body ?? {});
      const uid = uidOf(ctx);
      const details = await loadLoginPrompt(ctx);
      const found = await pendingAccount(ctx, uid);
      if (!found) return backToStart(ctx, uid);
      const { account } = found;
      const client = await interactions.client(ctx, details);
      const t = translator(pageLocale(ctx));
      const recoveryCodes = await secondFactors.confirmEnrolment(account.id, code);
      if (!recoveryCodes) return sendEnrolPage(ctx, details, client, account, t('mfa.failed'), 401);
      audit.record({ type: 'mfa.enrolled', actor: account.id, accountId: account.id, ...interactionFacts(ctx, details), data: { factor: 'totp', recoveryCodes: recoveryCodes.length } });
      keepPendingLogin(ctx, { uid, accountId: account.id, enrolled: true });
      const { model } = common(ctx, details, client);
      sendPage(ctx, render, 'recovery-codes', { ...model, title: t('mfa.codes.title'), codes: recoveryCodes });
    },

    async finishEnrolment(ctx) {
      const uid = uidOf(ctx);
      const details = await loadLoginPrompt(ctx);
      const found = await pendingAccount(ctx, uid);
      if (!found?.pending.enrolled) return backToStart(ctx, uid);
      await finish(ctx, details, found.account, 'enrolment');
    },
  };
}
