import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';

import type { AccountService, Passkeys, SecondFactors } from '../accounts/index.ts';
import type { ClientService, ResourceService } from '../clients/index.ts';
import type { GrantService, MfaRequirement } from '../oidc/index.ts';
import { discardAudit, type AuditSink } from '../audit/index.ts';
import type { Mailer } from '../mail/index.ts';
import type { Metrics } from '../observability/index.ts';
import { createConsent } from './consent.ts';
import { issueCsrfToken, requireCsrfToken } from './csrf.ts';
import { createInteractionLoader, expiredInteractions, interactionFacts } from './load-interaction.ts';
import { createLogin } from './login.ts';
import type { PasswordResetPages } from './password-reset.ts';
import type { SignUpPages } from './sign-up.ts';
import { UNTHROTTLED, type LoginThrottle } from './login-throttle.ts';
import { parseForm } from './parse-form.ts';
import type { RenderPage } from './render-page.ts';
import { rememberAuthorizationRequest } from './restart-link.ts';
import { createSecondFactorPages, type MailThrottle } from './second-factor.ts';
import { enginePath } from '../http/index.ts';

// The browser side of the authorization flow: the engine redirects to /interaction/:uid
// with a prompt (login or consent); we answer it and hand the result back with
// interactionFinished, which writes the redirect itself. This file is the list of routes;
// each stage is its own file, opening with the rules it enforces:
//
//   every route      load-interaction.ts   this browser's interaction, expired page, finish
//   GET  /           login.ts | consent.ts the page for the engine's prompt
//   POST /login      login.ts              throttle, password, login.success or the form again,
//                                          or on to the second factor
//   POST /passkey-sign-in  login.ts        a discoverable passkey alone (PASSKEY_SIGN_IN), login.success
//   POST /code       second-factor.ts      throttle, a TOTP or recovery code, login.success
//   POST /passkey    second-factor.ts      throttle, one of the account's passkeys, login.success
//   POST /mailbox    second-factor.ts      the code mailed before an enrolment (the mailbox is the person's)
//   POST /enrol      second-factor.ts      a new authenticator's first code; recovery codes shown once
//   POST /continue   second-factor.ts      after the recovery codes: login.success
//   POST /confirm    consent.ts            grant what is missing, remember the consent
//   POST /abort      consent.ts            access_denied
//   GET  /forgot     password-reset.ts     "Forgot password?" from this sign-in (when enabled)
//   POST /forgot     password-reset.ts     send the link; it leads back to this sign-in
//   GET  /signup     sign-up.ts            "Create an account" from this sign-in (REGISTRATION=open)
//   POST /signup     sign-up.ts            send the link; the finished account leads back here
//
// Every POST is a form: parsed, then its CSRF token checked, before any stage runs.

export interface InteractionDeps {
  readonly provider: Provider;
  readonly accounts: AccountService;
  readonly clients: ClientService;
  readonly resources: ResourceService;
  /** Remembers what people allow, so their next grant for the client starts from it. */
  readonly grants: GrantService;
  readonly render: RenderPage;
  /** Where login and consent events go (logouts: oidc/events/); nothing is recorded without one. */
  readonly audit?: AuditSink;
  /** Password guessing throttle (login-throttle.ts; abuse/ implements it); without one, logins are not throttled. */
  readonly loginThrottle?: LoginThrottle;
  /** Logins by outcome, for the operator's dashboards. */
  readonly metrics?: Pick<Metrics, 'loginAttempts'>;
  /** The password reset pages (PASSWORD_RESET); without them, no "Forgot password?". */
  readonly passwordReset?: PasswordResetPages | undefined;
  /** The sign-up pages, where anyone may sign up (REGISTRATION=open); without them, no "Create an account". */
  readonly openSignUp?: SignUpPages | undefined;
  /** Authenticators and recovery codes; without them, sign-in is by password alone. */
  readonly secondFactors?: SecondFactors | undefined;
  /** Passkeys: a second factor, and where their sign-in is on, a way in alone. */
  readonly passkeys?: Passkeys | undefined;
  /** MFA: optional (those who enrolled), required (everyone), and the roles that require it; enrolling at sign-in. */
  readonly mfa?: MfaRequirement;
  /** Tells a person that an authenticator was set up on their account. */
  readonly mailer?: Mailer | undefined;
  /** The issuer, named in mail. */
  readonly issuer?: string | undefined;
  /** Counts the codes mailed before an enrolment, per account (abuse/ implements it). */
  readonly mailThrottle?: MailThrottle | undefined;
  /** Mail reaches people (SMTP_URL, or development's log); without, no code is mailed and no one enrols at sign-in. */
  readonly mailReachesPeople?: boolean;
}

export function createInteractionRouter(deps: InteractionDeps): Router {
  const { provider, render } = deps;
  const audit = deps.audit ?? discardAudit;
  const authorizationPath = () => enginePath(provider, 'authorization');
  const interactions = createInteractionLoader(provider);
  const reset = deps.passwordReset;
  const throttle = deps.loginThrottle ?? UNTHROTTLED;
  const secondFactor = deps.secondFactors
    ? createSecondFactorPages({ ...deps, secondFactors: deps.secondFactors, interactions, audit, throttle, requirement: deps.mfa ?? { mode: 'optional', roles: [] }, mailReachesPeople: deps.mailReachesPeople ?? false })
    : undefined;
  const signUp = deps.openSignUp;
  const login = createLogin({ ...deps, interactions, audit, throttle, forgotPassword: reset !== undefined, signUp: signUp !== undefined, secondFactor });
  const consent = createConsent({ ...deps, interactions, audit });
  const formPost = [parseForm(), requireCsrfToken()];

  const router = new Router({ prefix: '/interaction/:uid' });
  router.use(expiredInteractions(render, authorizationPath));

  router.get('/', async (ctx) => {
    const details = await interactions.load(ctx);
    const client = await interactions.client(ctx, details);
    rememberAuthorizationRequest(ctx, authorizationPath(), details.params);
    if (details.prompt.name === 'login') return login.show(ctx, details, client);
    if (details.prompt.name === 'consent') return consent.show(ctx, details, client);
    ctx.throw(400, `unsupported prompt ${details.prompt.name}`);
  });
  router.post('/login', ...formPost, login.submit);
  if (deps.passkeys?.signIn) router.post('/passkey-sign-in', ...formPost, login.submitPasskey);
  if (secondFactor) {
    router.post('/code', ...formPost, secondFactor.submitCode);
    router.post('/passkey', ...formPost, secondFactor.submitPasskey);
    router.post('/mailbox', ...formPost, secondFactor.submitMailboxCode);
    router.post('/enrol', ...formPost, secondFactor.submitEnrolment);
    router.post('/continue', ...formPost, secondFactor.finishEnrolment);
  }
  router.post('/confirm', ...formPost, consent.confirm);
  router.post('/abort', ...formPost, consent.abort);
  // A form that mails a link ("Forgot password?", "Create an account") from this sign-in, to
  // come back to it. The interaction must still be this browser's: its expired page
  // otherwise, as everywhere here.
  const placeOf = (step: string) => async (ctx: Context) => {
    const details = await interactions.load(ctx);
    const uid = encodeURIComponent(details.uid);
    return { action: `/interaction/${uid}/${step}`, csrf: issueCsrfToken(ctx, details.uid), backUrl: `/interaction/${uid}`, interactionUid: details.uid, facts: interactionFacts(ctx, details) };
  };
  if (reset) {
    const place = placeOf('forgot');
    router.get('/forgot', async (ctx) => reset.showRequest(ctx, await place(ctx)));
    router.post('/forgot', ...formPost, async (ctx) => reset.submitRequest(ctx, await place(ctx)));
  }
  if (signUp) {
    const place = placeOf('signup');
    router.get('/signup', async (ctx) => signUp.showRequest(ctx, await place(ctx)));
    router.post('/signup', ...formPost, async (ctx) => signUp.submitRequest(ctx, await place(ctx)));
  }

  return router;
}
