import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { errors, type Client, type InteractionResults } from 'oidc-provider';
import { z } from 'zod';

import type { AccountService, AuthenticationResult } from '../accounts/index.ts';
import type { ClientService, ResourceService } from '../clients/index.ts';
import { consentOf, type GrantService } from '../oidc/index.ts';
import { discardAudit, requestFacts, type AuditSink } from '../audit/index.ts';
import type { Metrics } from '../observability/metrics.ts';
import { clientDisplay, clientFormTargets } from './client-display.ts';
import { consentView, type ConsentPromptDetails } from './consent-view.ts';
import { CSRF_FIELD, issueCsrfToken, requireCsrfToken } from './csrf.ts';
import { readDeviceId, rememberDevice } from './device-cookie.ts';
import { UNTHROTTLED, type LoginThrottle } from './login-throttle.ts';
import { parseForm } from './parse-form.ts';
import { sendExpiredPage } from './render-error.ts';
import { sendPage, type RenderPage } from './render-page.ts';
import { rememberAuthorizationRequest } from './restart-link.ts';

// The browser side of the authorization flow: the engine redirects to /interaction/:uid
// with a prompt (login or consent); we answer it and hand the result back with
// interactionFinished, which writes the redirect itself.

export const GENERIC_LOGIN_ERROR = 'Email or password is incorrect.';

/** The first-party flag of a registry client, as the engine's client carries it. */
const FIRST_PARTY = 'portcullis_first_party';

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
}

type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

// Unknown fields are dropped; a field sent twice or as a structure counts as empty.
const loginForm = z.object({
  email: z.string().catch(''),
  password: z.string().catch(''),
});

const MAX_EMAIL_SHOWN = 254;

export function createInteractionRouter(deps: InteractionDeps): Router {
  const { provider, accounts, resources, render } = deps;
  const throttle = deps.loginThrottle ?? UNTHROTTLED;
  const audit = deps.audit ?? discardAudit;
  const router = new Router({ prefix: '/interaction/:uid' });
  const authorizationPath = () => provider.pathFor('authorization');
  const formPost = [parseForm(), requireCsrfToken()];

  // An interaction that expired, was finished already or never existed: a plain 400 page
  // with a way to start again, whichever route noticed it.
  router.use(async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      if (!(error instanceof errors.SessionNotFound)) throw error;
      sendExpiredPage(ctx, render, authorizationPath());
    }
  });

  /** The interaction of this browser, and only if it is the one in the URL. */
  async function loadInteraction(ctx: Context): Promise<Interaction> {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (details.uid !== (ctx.params as { uid?: string }).uid) throw new errors.SessionNotFound('interaction does not match the page');
    return details;
  }

  async function loadClient(ctx: Context, details: Interaction): Promise<Client | undefined> {
    const clientId = details.params.client_id;
    const client = typeof clientId === 'string' ? await provider.Client.find(clientId) : undefined;
    // Our forms lead, through the engine's redirect, to this client's registered URIs.
    ctx.state.formTargets = clientFormTargets(client);
    return client;
  }

  function facts(ctx: Context, details: Interaction) {
    const clientId = typeof details.params.client_id === 'string' ? details.params.client_id : undefined;
    return { clientId, ...requestFacts(ctx) };
  }

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

  /** Everything the user grants in one consent: missing OIDC scopes, claims and resource scopes. */
  async function grantMissing(details: Interaction): Promise<{ grantId: string; granted: string[] }> {
    const { prompt, params, session, grantId } = details;
    const missing = prompt.details as ConsentPromptDetails;
    const grant = grantId
      ? await provider.Grant.find(grantId)
      : new provider.Grant({ accountId: session?.accountId, clientId: params.client_id as string });
    if (!grant) throw new errors.SessionNotFound('the grant of this interaction is gone');
    const granted: string[] = [];
    if (missing.missingOIDCScope?.length) {
      grant.addOIDCScope(missing.missingOIDCScope.join(' '));
      granted.push(...missing.missingOIDCScope);
    }
    if (missing.missingOIDCClaims?.length) grant.addOIDCClaims([...missing.missingOIDCClaims]);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
      granted.push(...scopes);
    }
    const saved = await grant.save();
    if (grant.accountId && grant.clientId) await deps.grants.rememberConsent(grant.accountId, grant.clientId, consentOf(grant));
    return { grantId: saved, granted };
  }

  async function finish(ctx: Context, result: InteractionResults, merge: boolean): Promise<void> {
    await provider.interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: merge });
    // interactionFinished has written the redirect; Koa must not write again.
    ctx.respond = false;
  }

  async function grantConsent(ctx: Context, details: Interaction, firstParty: boolean): Promise<void> {
    const { grantId, granted } = await grantMissing(details);
    audit.record({
      type: 'consent.granted',
      actor: firstParty ? 'system' : details.session?.accountId,
      accountId: details.session?.accountId,
      ...facts(ctx, details),
      data: { scopes: granted, ...(firstParty && { firstParty: true }) },
    });
    // A new grant is handed over by id; an existing one was extended in place.
    await finish(ctx, { consent: details.grantId ? {} : { grantId } }, true);
  }

  router.get('/', async (ctx) => {
    const details = await loadInteraction(ctx);
    const client = await loadClient(ctx, details);
    rememberAuthorizationRequest(ctx, authorizationPath(), details.params);

    if (details.prompt.name === 'login') {
      const hint = typeof details.params.login_hint === 'string' ? details.params.login_hint : '';
      const current = details.session?.accountId ? await accounts.findById(details.session.accountId) : undefined;
      sendLogin(ctx, details, client, { email: current?.email ?? hint });
      return;
    }

    if (details.prompt.name === 'consent') {
      // First-party clients are trusted by registration; their users are not asked.
      if (client?.[FIRST_PARTY] === true) {
        await grantConsent(ctx, details, true);
        return;
      }
      const accountId = details.session?.accountId;
      const account = accountId ? await accounts.findById(accountId) : undefined;
      sendPage(ctx, render, 'consent', {
        title: 'Allow access',
        uid: details.uid,
        csrfField: CSRF_FIELD,
        csrf: issueCsrfToken(ctx, details.uid),
        client: clientDisplay(client),
        email: account?.email,
        ...(await consentView(details.prompt.details, resources)),
      });
      return;
    }
    ctx.throw(400, `unsupported prompt ${details.prompt.name}`);
  });

  router.post('/login', ...formPost, async (ctx) => {
    const { email, password } = loginForm.parse(ctx.request.body ?? {});
    // Guessing is throttled before anything is read or hashed (429 and the error page).
    const reservation = await throttle.reserve(ctx, { email, ip: ctx.ip, device: readDeviceId(ctx) });
    if (!reservation) return;
    let result: AuthenticationResult;
    let details: Interaction;
    try {
      details = await loadInteraction(ctx);
      if (details.prompt.name !== 'login') ctx.throw(400, 'this sign-in is not asking for a password');
      result = await accounts.authenticate(email, password);
    } catch (error) {
      await reservation.released();
      throw error;
    }
    deps.metrics?.loginAttempts.inc({ outcome: result.ok ? 'success' : 'failure' });
    if (!result.ok) {
      // A disabled account's right password counts as a failure too: neither the answer nor
      // the throttle may tell it apart from a wrong one.
      await reservation.failed();
      // One message for unknown email, wrong password and disabled account alike.
      audit.record({ type: 'login.failure', ...facts(ctx, details), data: { reason: result.reason } });
      sendLogin(ctx, details, await loadClient(ctx, details), { email, error: GENERIC_LOGIN_ERROR });
      return;
    }
    // This browser is now known for the account: never slowed by attacks on it from elsewhere.
    await reservation.succeeded(rememberDevice(ctx));
    audit.record({ type: 'login.success', actor: result.account.id, accountId: result.account.id, ...facts(ctx, details) });
    await finish(ctx, { login: { accountId: result.account.id, amr: ['pwd'] } }, false);
  });

  router.post('/confirm', ...formPost, async (ctx) => {
    const details = await loadInteraction(ctx);
    if (details.prompt.name !== 'consent') ctx.throw(400, 'this sign-in is not asking for permission');
    await grantConsent(ctx, details, false);
  });

  router.post('/abort', ...formPost, async (ctx) => {
    const details = await loadInteraction(ctx);
    audit.record({
      type: 'consent.denied',
      actor: details.session?.accountId,
      accountId: details.session?.accountId,
      ...facts(ctx, details),
      data: { prompt: details.prompt.name },
    });
    await finish(ctx, { error: 'access_denied', error_description: 'End-User aborted interaction' }, false);
  });

  return router;
}
