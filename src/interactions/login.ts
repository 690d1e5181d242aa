import type { Context, Middleware } from 'koa';
import type { Client } from 'oidc-provider';
import { z } from 'zod';

import type { AccountService, AuthenticationResult } from '../accounts/index.ts';
import type { AuditSink } from '../audit/index.ts';
import type { Metrics } from '../observability/index.ts';
import { clientDisplay } from './client-display.ts';
import { CSRF_FIELD, issueCsrfToken } from './csrf.ts';
import { readDeviceId, rememberDevice } from './device-cookie.ts';
import { interactionFacts, type Interaction, type InteractionLoader } from './load-interaction.ts';
import type { LoginThrottle } from './login-throttle.ts';
import { sendPage, type RenderPage } from './render-page.ts';

// The login prompt: the password form and its answer. Rules:
// - guessing is throttled before anything is read or hashed (the throttle writes the 429);
// - one message for an unknown email, a wrong password and a disabled account, and all
//   three count as failures: neither the answer nor the throttle tells them apart;
// - an attempt the password check never settled is given back to the throttle;
// - a successful login trusts this browser for the account (never slowed by attacks on it
//   from elsewhere) and finishes the interaction with amr ['pwd'].

export const GENERIC_LOGIN_ERROR = 'Email or password is incorrect.';

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
}

export interface Login {
  /** GET on a login prompt: the form, with the email of the session's account or the login_hint. */
  show(ctx: Context, details: Interaction, client: Client | undefined): Promise<void>;
  /** POST /login: check the password and finish the interaction, or show the form again. */
  readonly submit: Middleware;
}

export function createLogin(deps: LoginDeps): Login {
  const { accounts, render, interactions, throttle, audit } = deps;

  function sendLogin(ctx: Context, details: Interaction, client: Client | undefined, form: { email: string; error?: string }) {
    const reasons = details.prompt.reasons;
    sendPage(
      ctx,
      render,
      'login',
      {
        title: 'Sign in',
        uid: details.uid,
        csrfField: CSRF_FIELD,
        csrf: issueCsrfToken(ctx, details.uid),
        client: clientDisplay(client),
        email: form.email.slice(0, MAX_EMAIL_SHOWN),
        error: form.error,
        // prompt=login or max_age: the person is signed in, but must prove it again.
        reauthenticate: Boolean(details.session?.accountId) && (reasons.includes('login_prompt') || reasons.includes('max_age')),
      },
      form.error ? 401 : 200,
    );
  }

  return {
    async show(ctx, details, client) {
      const hint = typeof details.params.login_hint === 'string' ? details.params.login_hint : '';
      const current = details.session?.accountId ? await accounts.findById(details.session.accountId) : undefined;
      sendLogin(ctx, details, client, { email: current?.email ?? hint });
    },

    async submit(ctx) {
      const { email, password } = loginForm.parse(ctx.request.body ?? {});
      const reservation = await throttle.reserve(ctx, { email, ip: ctx.ip, device: readDeviceId(ctx) });
      if (!reservation) return;
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
        // at it; the page below is the same whether or not it does.
        audit.record({ type: 'login.failure', accountId: result.accountId, ...interactionFacts(ctx, details), data: { reason: result.reason } });
        sendLogin(ctx, details, await interactions.client(ctx, details), { email, error: GENERIC_LOGIN_ERROR });
        return;
      }
      await reservation.succeeded(rememberDevice(ctx));
      audit.record({ type: 'login.success', actor: result.account.id, accountId: result.account.id, ...interactionFacts(ctx, details) });
      await interactions.finish(ctx, { login: { accountId: result.account.id, amr: ['pwd'] } }, false);
    },
  };
}
