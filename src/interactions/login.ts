import type { Context, Middleware } from 'koa';
import type { Client } from 'oidc-provider';
import { z } from 'zod';

import type { AccountService, AuthenticationResult, Passkeys } from '../accounts/index.ts';
import type { AuditSink } from '../audit/index.ts';
import type { Metrics } from '../observability/index.ts';
import { PORTCULLIS_ACR_MFA, PORTCULLIS_ACR_PWD } from '../oidc/index.ts';
import { clientDisplay } from './client-display.ts';
import { CSRF_FIELD, issueCsrfToken } from './csrf.ts';
import { readDeviceId, rememberDevice } from './device-cookie.ts';
import { interactionFacts, type Interaction, type InteractionLoader } from './load-interaction.ts';
import { isNavigation, keepOutcome, takeOutcome, type LoginOutcome } from './login-outcome.ts';
import type { LockoutReason, LoginThrottle } from './login-throttle.ts';
import { formatClock, formatWait, translator } from './messages/index.ts';
import { errorPage } from './render-error.ts';
import { pageLocale, sendPage, type RenderPage } from './render-page.ts';
import { PASSKEY_SCRIPTS, type SecondFactorPages } from './second-factor.ts';

// The login prompt: the password form and its answer. Rules:
// - guessing is throttled before anything is read or hashed; a refused attempt shows the
//   form again, saying when the person may try again (the throttle's Retry-After, as a
//   time and as a wait), with status 429 and Retry-After;
// - one message for an unknown email, a wrong password and a disabled account, and all
//   three count as failures: neither the answer nor the throttle tells them apart;
// - a browser's refused POST is answered with a redirect to the page (login-outcome.ts),
//   so Back never sends the password again;
// - an attempt the password check never settled is given back to the throttle;
// - a successful login trusts this browser for the account (never slowed by attacks on it
//   from elsewhere) and finishes the interaction with amr ['pwd'];
// - unless a second factor follows (second-factor.ts): then the right password is given
//   back to the throttle (never a failure) and this browser is trusted only once the
//   second factor is right;
// - where PASSKEY_SIGN_IN is on, a passkey alone signs in (POST /passkey-sign-in): a
//   discoverable credential answering this sign-in's challenge, with user verification (a PIN
//   or biometric on the device: two factors in one), amr [hwk|swk, mfa] and the MFA acr. It
//   is not a password: the login throttle neither slows it nor counts it (a passkey cannot be
//   guessed, and an account locked by someone guessing its password can still be used this
//   way); the form's budget per address still applies (abuse/classify.ts). A refused answer
//   is audited and shows the form again with one message.

const MAX_EMAIL_SHOWN = 254;

// Unknown fields are dropped; a field sent twice or as a structure counts as empty.
const loginForm = z.object({
  email: z.string().catch(''),
  password: z.string().catch(''),
});

export interface LoginDeps {
  readonly accounts: AccountService;
  readonly render: RenderPage;
  readonly interactions: InteractionLoader;
  readonly throttle: LoginThrottle;
  readonly audit: AuditSink;
  readonly metrics?: Pick<Metrics, 'loginAttempts'> | undefined;
  /** Offer "Forgot password?" (the reset pages are mounted). */
  readonly forgotPassword?: boolean | undefined;
  /** "Create an account" on the form (REGISTRATION=open). */
  readonly signUp?: boolean | undefined;
  /** The second step, when people may have (or must have) an authenticator. */
  readonly secondFactor?: SecondFactorPages | undefined;
  /** Passkeys; their sign-in is offered where `passkeys.signIn` is on. */
  readonly passkeys?: Passkeys | undefined;
}

export interface Login {
  /** GET on a login prompt: the form, with the email of the session's account or the login_hint. */
  show(ctx: Context, details: Interaction, client: Client | undefined): Promise<void>;
  /** POST /login: check the password and finish the interaction, or show the form again. */
  readonly submit: Middleware;
  /** POST /passkey-sign-in: a discoverable passkey's answer, or the form again. */
  readonly submitPasskey: Middleware;
}

const passkeyForm = z.object({ response: z.string().max(65_536).catch('') });

const LOCKOUT_MESSAGES = { slow: 'login.locked.slow', device: 'login.locked.device', network: 'login.locked.network' } as const;

interface FormState {
  readonly email: string;
  readonly failed?: boolean;
  readonly passkeyFailed?: boolean;
  readonly lockout?: { readonly reason: LockoutReason; readonly until: number };
}

export function createLogin(deps: LoginDeps): Login {
  const { accounts, render, interactions, throttle, audit } = deps;

  const passkeySignIn = deps.passkeys?.signIn ? deps.passkeys : undefined;

  async function sendLogin(ctx: Context, details: Interaction, client: Client | undefined, form: FormState) {
    const reasons = details.prompt.reasons;
    const locale = pageLocale(ctx);
    const t = translator(locale);
    let error: string | undefined;
    let status = 200;
    if (form.lockout) {
      const lockout = lockoutMessage(ctx, form.lockout.reason, form.lockout.until);
      error = lockout.text;
      status = 429;
      ctx.set('Retry-After', String(lockout.wait));
    } else if (form.failed) {
      error = t('login.failed');
      status = 401;
    } else if (form.passkeyFailed) {
      error = t('login.passkey.failed');
      status = 401;
    }
    // A challenge of this sign-in for a passkey button (a discoverable credential, any account).
    const passkey = passkeySignIn ? JSON.stringify(await passkeySignIn.authenticationOptions(details.uid)) : undefined;
    sendPage(
      ctx,
      render,
      'login',
      {
        title: t('login.title'),
        uid: details.uid,
        csrfField: CSRF_FIELD,
        csrf: issueCsrfToken(ctx, details.uid),
        client: clientDisplay(client, t),
        email: form.email.slice(0, MAX_EMAIL_SHOWN),
        error,
        forgotUrl: deps.forgotPassword ? `/interaction/${encodeURIComponent(details.uid)}/forgot` : undefined,
        signUpUrl: deps.signUp ? `/interaction/${encodeURIComponent(details.uid)}/signup` : undefined,
        // prompt=login or max_age: the person is signed in, but must prove it again.
        reauthenticate: Boolean(details.session?.accountId) && (reasons.includes('login_prompt') || reasons.includes('max_age')),
        passkey,
        scripts: passkey ? PASSKEY_SCRIPTS : undefined,
      },
      status,
    );
  }

  function lockoutMessage(ctx: Context, reason: LockoutReason, until: number): { text: string; wait: number } {
    const locale = pageLocale(ctx);
    const t = translator(locale);
    const wait = Math.max(1, Math.ceil((until - Date.now()) / 1000));
    return { text: t(LOCKOUT_MESSAGES[reason], { time: formatClock(locale, new Date(until)), wait: formatWait(t, wait) }), wait };
  }

  /**
   * A refused attempt. A browser is sent to the page (Post/Redirect/Get), which shows the
   * form with the outcome. A script gets the answer at once, in its status.
   */
  async function answerRefused(ctx: Context, uid: string, outcome: LoginOutcome, details?: Interaction): Promise<void> {
    if (isNavigation(ctx)) {
      keepOutcome(ctx, uid, outcome);
      ctx.remove('Retry-After');
      ctx.redirect(`/interaction/${encodeURIComponent(uid)}`);
      ctx.status = 303;
      return;
    }
    if (outcome.kind !== 'locked' && details) {
      const form = outcome.kind === 'failed' ? { email: outcome.email, failed: true } : { email: '', passkeyFailed: true };
      await sendLogin(ctx, details, await interactions.client(ctx, details), form);
      return;
    }
    // A lockout costs no database read: the refusal in the caller's shape, headers already set.
    if (outcome.kind !== 'locked') return;
    const { text } = lockoutMessage(ctx, outcome.reason, outcome.until);
    if (ctx.accepts('json', 'html') === 'json') {
      ctx.status = 429;
      ctx.body = { error: 'too_many_requests', error_description: text };
      return;
    }
    const page = errorPage({ status: 429, error: 'too_many_requests', message: text, requestId: ctx.state.requestId as string | undefined }, pageLocale(ctx));
    sendPage(ctx, render, 'error', { ...page, message: text, restartUrl: `/interaction/${encodeURIComponent(uid)}` }, 429);
  }

  return {
    async show(ctx, details, client) {
      if (await deps.secondFactor?.show(ctx, details, client)) return;
      const kept = takeOutcome(ctx, details.uid);
      if (kept?.kind === 'locked' && kept.until > Date.now()) return sendLogin(ctx, details, client, { email: kept.email, lockout: kept });
      if (kept?.kind === 'failed') return sendLogin(ctx, details, client, { email: kept.email, failed: true });
      if (kept?.kind === 'passkey_failed') return sendLogin(ctx, details, client, { email: '', passkeyFailed: true });
      const hint = typeof details.params.login_hint === 'string' ? details.params.login_hint : '';
      const current = details.session?.accountId ? await accounts.findById(details.session.accountId) : undefined;
      await sendLogin(ctx, details, client, { email: (kept?.kind === 'locked' ? kept.email : undefined) ?? current?.email ?? hint });
    },

    async submit(ctx) {
      const { email, password } = loginForm.parse(ctx.request.body ?? {});
      const shownEmail = email.slice(0, MAX_EMAIL_SHOWN);
      const reservation = await throttle.reserve(ctx, { email, ip: ctx.ip, device: readDeviceId(ctx) });
      const uid = (ctx.params as { uid: string }).uid;
      if (reservation.refused) {
        const until = Date.now() + reservation.retryAfterSeconds * 1000;
        await answerRefused(ctx, uid, { kind: 'locked', email: shownEmail, reason: reservation.reason, until });
        return;
      }
      let result: AuthenticationResult;
      let details: Interaction;
      try {
        details = await interactions.load(ctx);
        if (details.prompt.name !== 'login') ctx.throw(400, 'this sign-in is not asking for a password');
        result = await accounts.authenticate(email, password);
      } catch (error) {
        await reservation.released();
        throw error;
      }
      deps.metrics?.loginAttempts.inc({ outcome: result.ok ? 'success' : 'failure' });
      if (!result.ok) {
        await reservation.failed();
        // The account, when the email names one, so `portcullis events --account` shows guessing
        // at it; the answer below is the same whether or not it does.
        audit.record({ type: 'login.failure', accountId: result.accountId, ...interactionFacts(ctx, details), data: { reason: result.reason } });
        await answerRefused(ctx, uid, { kind: 'failed', email: shownEmail }, details);
        return;
      }
      if (deps.secondFactor) {
        let next: boolean;
        try {
          next = await deps.secondFactor.afterPassword(ctx, details, result.account);
        } catch (error) {
          await reservation.released();
          throw error;
        }
        if (next) return reservation.released();
      }
      await reservation.succeeded(rememberDevice(ctx));
      audit.record({ type: 'login.success', actor: result.account.id, accountId: result.account.id, ...interactionFacts(ctx, details) });
      await interactions.finish(ctx, { login: { accountId: result.account.id, amr: ['pwd'], acr: PORTCULLIS_ACR_PWD } }, false);
    },

    async submitPasskey(ctx) {
      const uid = (ctx.params as { uid: string }).uid;
      const details = await interactions.load(ctx);
      const passkeys = passkeySignIn; // the route exists only with it
      if (details.prompt.name !== 'login' || !passkeys) return ctx.throw(400, 'this sign-in is not asking for a passkey');
      const { response } = passkeyForm.parse(ctx.request.body ?? {});
      const outcome = await passkeys.authenticate(details.uid, response);
      const account = outcome.ok ? await accounts.findById(outcome.accountId) : undefined;
      if (!outcome.ok || !account || account.disabled) {
        deps.metrics?.loginAttempts.inc({ outcome: 'failure' });
        const reason = outcome.ok ? 'disabled' : `passkey_${outcome.reason}`;
        audit.record({ type: 'login.failure', accountId: outcome.ok ? outcome.accountId : undefined, ...interactionFacts(ctx, details), data: { reason } });
        await answerRefused(ctx, uid, { kind: 'passkey_failed' }, details);
        return;
      }
      deps.metrics?.loginAttempts.inc({ outcome: 'success' });
      const amr = [outcome.method, 'mfa'];
      audit.record({ type: 'login.success', actor: account.id, accountId: account.id, ...interactionFacts(ctx, details), data: { amr, passkey: outcome.passkeyId } });
      await interactions.finish(ctx, { login: { accountId: account.id, amr, acr: PORTCULLIS_ACR_MFA } }, false);
    },
  };
}
