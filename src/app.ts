import type { Redis } from 'ioredis';
import Koa from 'koa';
import type { Middleware } from 'koa';
import type Provider from 'oidc-provider';

import { createAbuseLimits } from './abuse/index.ts';
import type { AccountService, EmailChanges, Passkeys, PasswordResets, SecondFactors, SignUps } from './accounts/index.ts';
import type { ClientService, ResourceService } from './clients/index.ts';
import type { Config } from './config/index.ts';
import type { DatabaseOutage, ThrottleReleaseStore } from './db/index.ts';
import {
  accessLog,
  checkProxyHeaders,
  dropMalformedForwardedFor,
  enginePath,
  errorHandler,
  originFormTarget,
  pinIssuerOrigin,
  requestId,
  requestMetrics,
  securityHeaders,
} from './http/index.ts';
import {
  answerUnknownPaths,
  createErrorPage,
  createInteractionRouter,
  createPasswordResetPages,
  createPasswordResetRouter,
  createSignUpPages,
  createSignUpRouter,
  guardDeviceCodes,
  landingPage,
  pageFormTargets,
  serveAssets,
  type Assets,
  type RenderPage,
  type ResetRequestQueue,
} from './interactions/index.ts';
import type { AuditSink, AuditTrail } from './audit/index.ts';
import type { Mailer } from './mail/index.ts';
import type { Logger, Metrics } from './observability/index.ts';
import type { AccessTokenVerifier, GrantService, KeyRotation, TokenStore } from './oidc/index.ts';
import { accountApiIndicator, createAccountApiRouter, createResourceMetadataRouter } from './account-api/index.ts';
import { ACCOUNT_PAGE_CLIENT_ID, ACCOUNT_CALLBACK_PATH, ACCOUNT_PAGE_PATH, accountPageUrl, createAccountPage, createAccountRouter, createAuthenticatorSetup, createCurrentPasswordCheck, createFactorManagement, createPasskeySetup, createEmailChangePages, createThrottledCode, createFirstPartySignIn, createPageSessions, requireOwnAttempt, signInFailed, type Dispatch } from './account-page/index.ts';
import { ADMIN_API_PATH, adminApiIndicator, adminMethodProblems, createAdminApiRouter, settingsView } from './admin-api/index.ts';
import { ADMIN_CONSOLE_CLIENT_ID, createAdminConsole } from './admin-console/index.ts';

export interface AppDeps {
  readonly config: Config;
  readonly logger: Logger;
  /** The engine as first built: its paths and interaction helpers (keys play no part there). */
  readonly provider: Provider;
  /** The engine, mounted: whichever is current when a request arrives (oidc/live-provider.ts). */
  readonly mountProvider: Middleware;
  /** Discovery and the JWKS as the current engine last answered them (oidc/published-documents.ts). */
  readonly answerPublishedDocuments: Middleware;
  /** The engine's cookie keys at start; a key change sets `app.keys` again (server.ts). */
  readonly cookieKeys: readonly string[];
  readonly accounts: AccountService;
  readonly clients: ClientService;
  readonly resources: ResourceService;
  readonly render: RenderPage;
  /** The pages' stylesheet and script, read at start by the assembly. */
  readonly assets: Assets;
  readonly accessTokens: AccessTokenVerifier;
  /** Spent DPoP proofs of the account API, and the rest of what tokens need beyond the engine. */
  readonly tokenStore: TokenStore;
  readonly grants: GrantService;
  readonly audit: AuditSink;
  readonly metrics: Metrics;
  /** Password reset links: made, checked, spent. */
  readonly passwordResets: PasswordResets;
  /** Invitations and sign-up links: made, checked, spent into accounts. */
  readonly signUps: SignUps;
  /** Changes of address from the account page, made by the link mailed to the new one. */
  readonly emailChanges: EmailChanges;
  /** TOTP authenticators and recovery codes. */
  readonly secondFactors: SecondFactors;
  /** Passkeys: added on the account page, a second factor, a sign-in of their own (PASSKEY_SIGN_IN). */
  readonly passkeys: Passkeys;
  /** The audit trail, read back (the admin API). */
  readonly auditTrail: AuditTrail;
  /** Outgoing mail, sent in the background (SMTP_URL, else the log). */
  readonly mailer: Mailer;
  /** Password reset requests' work, done after their page answered. */
  readonly resetRequests: ResetRequestQueue;
  /** REDIS_URL's connection: rate limits and login throttling shared by every instance. */
  readonly redis?: Redis | undefined;
  /** Announced key rotation (oidc/key-rotation.ts): listed and started by the admin API. */
  readonly keyRotation: Pick<KeyRotation, 'list' | 'rotate'>;
  /** Operators' releases of throttle blocks (`portcullis users unblock`), left in the database. */
  readonly throttleReleases?: ThrottleReleaseStore | undefined;
  /** Database outages: our routes' requests failed by one are answered 503 and logged once. */
  readonly databaseOutage?: DatabaseOutage | undefined;
}

/**
 * The whole request path, top to bottom. Pure: no I/O, no process.env; the assembly
 * (server.ts) passes the deps in.
 */
export function createApp(deps: AppDeps): Koa {
  const { config, logger } = deps;
  const app = new Koa({
    proxy: config.trustProxy,
    // The client's address is this many X-Forwarded-For entries from the right: what our
    // proxies appended, not what the client wrote to the left of it.
    maxIpsCount: config.trustProxyHops,
    // Must equal the engine's cookie keys, or interactions end in SessionNotFound.
    keys: [...deps.cookieKeys],
  });
  app.silent = true; // errors are logged once, by errorHandler or the provider listener
  const renderErrorPage = createErrorPage(deps.render);
  const abuse = createAbuseLimits({ ...deps, renderPage: renderErrorPage });

  //    The request target in origin form before anything reads the path: an absolute-form
  //    target keeps only its path and query; one that is no URL is refused (400) below.
  app.use(originFormTarget());
  //    The client's address: X-Forwarded-For (with TRUST_PROXY) only when what our proxies
  //    appended are IP addresses. First, since Koa remembers ctx.ip from its first read.
  app.use(dropMalformedForwardedFor({ trustProxy: config.trustProxy, hops: config.trustProxyHops }));
  // 0. A key already refused by a request budget is refused again before anything else is
  //    made for it (a flood costs little more than a hello world); only counted, since its
  //    first refusal in the window was logged and audited through the full path below.
  app.use(abuse.repeatRefusals);
  // 1. Every request gets an id first, so every later log line and error page carries it.
  app.use(requestId({ trustProxy: config.trustProxy }));
  //    Then one access-log line and one duration sample per request: outside the error
  //    handler, so they see the final status, and the route (known only after next()).
  app.use(accessLog({ logger }));
  app.use(requestMetrics({ metrics: deps.metrics }));
  // 2. Our own routes' errors become safe responses (the engine handles its own; an
  //    unreachable database is a 503 with Retry-After in both).
  app.use(
    errorHandler({
      logger,
      renderPage: renderErrorPage,
      outage: deps.databaseOutage,
    }),
  );
  //    X-Forwarded-Proto (with TRUST_PROXY) only http or https, else dropped; a bad Host is
  //    a 400. Then every URL the engine writes names the configured issuer, whatever the
  //    Host, X-Forwarded-Host or request target said (the scheme the request came in with
  //    still decides Secure cookies).
  app.use(checkProxyHeaders({ trustProxy: config.trustProxy }));
  app.use(pinIssuerOrigin(app, { issuer: config.issuer }));
  // 3. Browser hardening on every response, the engine's own pages included: CSP with a
  //    per-response nonce, no framing, nosniff, no referrer, no-store pages, HSTS on https.
  app.use(securityHeaders({ hsts: new URL(config.issuer).protocol === 'https:', formTargets: pageFormTargets }));
  //    No dead ends: a 404 nobody answered (an unknown path) becomes a page for a browser,
  //    OAuth's JSON error shape for anything else. Here, so it carries the headers above.
  app.use(answerUnknownPaths(deps.render));
  //    Abuse limits before anything that costs: request budgets per address (every request,
  //    and per endpoint, by path alone), then 413/415 before a body is read. A refusal is a
  //    429 with Retry-After and RateLimit fields: no database, no argon2.
  app.use(abuse.requests);
  app.use(abuse.bodies);
  //    Discovery and the JWKS: every client and resource server fetches them, and they
  //    change only with the engine. Answered as the engine last answered them, within its
  //    budget and headers but without the engine and the client middleware below.
  app.use(deps.answerPublishedDocuments);
  // 4. The stylesheet and script of the pages, and the issuer's root: what this is, where
  //    discovery is.
  app.use(serveAssets(deps.assets));
  app.use(landingPage({ render: deps.render, issuer: config.issuer }));
  // 5. Login and consent pages; they end in provider.interactionFinished. Password guessing
  //    is throttled per account and address before the password is hashed. With
  //    PASSWORD_RESET, "Forgot password?": inside a sign-in (/interaction/:uid/forgot) and on
  //    its own (/password-reset), requests throttled per account and address, mail sent in
  //    the background.
  const passwordReset = config.passwordReset.enabled
    ? createPasswordResetPages({
        resets: deps.passwordResets,
        mailer: deps.mailer,
        render: deps.render,
        audit: deps.audit,
        logger,
        throttle: abuse.resetThrottle,
        requests: deps.resetRequests,
        issuer: config.issuer,
        ttlSeconds: config.passwordReset.ttl,
      })
    : undefined;
  //    With REGISTRATION=invite|open, sign-up: an address proved by a mailed link before the
  //    account is made; "Create an account" inside a sign-in (open only) and on its own
  //    (/signup, an invitation's link too), throttled and mailed as resets are.
  const mode = config.registration.mode;
  const signUp =
    mode === 'off'
      ? undefined
      : createSignUpPages({
          mode,
          signUps: deps.signUps,
          mailer: deps.mailer,
          render: deps.render,
          audit: deps.audit,
          throttle: abuse.signUpThrottle,
          requests: deps.resetRequests,
          issuer: config.issuer,
          ttlSeconds: config.registration.linkTtl,
          passwordReset: passwordReset !== undefined,
        });
  //    People with an authenticator (or all, MFA=required) give a code after the password.
  const interactions = createInteractionRouter({
    ...deps,
    loginThrottle: abuse.loginThrottle,
    mailThrottle: abuse.mailboxCodeThrottle,
    passwordReset,
    openSignUp: mode === 'open' ? signUp : undefined,
    mfa: config.mfa,
    issuer: config.issuer,
    mailReachesPeople: config.mail.reachesPeople,
  });
  app.use(interactions.routes());
  app.use(interactions.allowedMethods());
  for (const pages of [passwordReset && createPasswordResetRouter(passwordReset), signUp && createSignUpRouter(signUp)]) {
    if (!pages) continue;
    app.use(pages.routes());
    app.use(pages.allowedMethods());
  }
  //    The account page (/account): people see and change their own account, signed in
  //    through Portcullis itself (code flow with PKCE, the code exchanged in-process through
  //    this very app, so every check and budget of the token endpoint applies).
  let dispatch: Dispatch | undefined;
  const ACCOUNT_AUTHORIZATION_COOKIE = 'portcullis.account-auth';
  const ADMIN_AUTHORIZATION_COOKIE = 'portcullis.admin-auth';
  const checkCurrentPassword = createCurrentPasswordCheck({ ...deps, throttle: abuse.loginThrottle });
  const accountPage = createAccountPage({ ...deps, checkCurrentPassword, issuer: config.issuer, clientId: ACCOUNT_PAGE_CLIENT_ID, mailReachesPeople: config.mail.reachesPeople });
  const attempt = createThrottledCode(abuse.loginThrottle);
  const passkeySetup = createPasskeySetup({
    ...deps,
    issuer: config.issuer,
    showPage: (ctx, session, error, status) => accountPage.showError(ctx, session, 'passkey', error, status),
  });
  const factorChanges = createFactorManagement({ ...deps, issuer: config.issuer });
  const accountRoutes = createAccountRouter({
    page: accountPage,
    passkeys: passkeySetup,
    authenticator: createAuthenticatorSetup({
      ...deps,
      checkCurrentPassword,
      attempt,
      mailThrottle: abuse.mailboxCodeThrottle,
      issuer: config.issuer,
      mailReachesPeople: config.mail.reachesPeople,
      showPage: (ctx, session, factor, error, status, target) => accountPage.showError(ctx, session, factor, error, status, target),
      showPasskeyCeremony: (ctx, session, name) => passkeySetup.showCeremony(ctx, session, name),
      finishChange: (ctx, session, change, target) => factorChanges.finish(ctx, session, change, target),
    }),
    emailChange: createEmailChangePages({
      ...deps,
      mailboxProofs: deps.secondFactors.mailboxProofs,
      checkCurrentPassword,
      attempt,
      codeThrottle: abuse.mailboxCodeThrottle,
      linkThrottle: abuse.signUpThrottle,
      issuer: config.issuer,
      mailReachesPeople: config.mail.reachesPeople,
      showPage: (ctx, session, error, status) => accountPage.showError(ctx, session, 'email', error, status),
    }),
    sessions: createPageSessions({ ...deps, cookie: { name: 'portcullis.account', path: ACCOUNT_PAGE_PATH }, clientId: ACCOUNT_PAGE_CLIENT_ID }),
    signIn: createFirstPartySignIn({
      issuer: config.issuer,
      clientId: ACCOUNT_PAGE_CLIENT_ID,
      redirectUri: accountPageUrl(config.issuer, ACCOUNT_CALLBACK_PATH),
      cookie: { name: 'portcullis.account-signin', path: ACCOUNT_PAGE_PATH },
      // On the authorization endpoint's path (the engine's endpoints are at the root).
      authorizationCookie: { name: ACCOUNT_AUTHORIZATION_COOKIE, path: enginePath(deps.provider, 'authorization') },
      scope: 'openid email profile',
      dispatch: () => (dispatch ??= app.callback()),
    }),
    verifier: deps.accessTokens,
    grants: deps.grants,
    render: deps.render,
    endSessionUrl: new URL(enginePath(deps.provider, 'end_session'), config.issuer).href,
    clientId: ACCOUNT_PAGE_CLIENT_ID,
  });
  app.use(accountRoutes.routes());
  app.use(accountRoutes.allowedMethods());
  //    The admin console (/admin), with ADMIN_API: pages signed in as the account page is, for
  //    the roles the admin API's scopes are bound to; each page calls the services the API's
  //    routes call, so it can do nothing the API would refuse.
  if (config.adminApi) {
    const adminConsole = createAdminConsole({
      ...deps,
      issuer: config.issuer,
      authorizationCookie: { name: ADMIN_AUTHORIZATION_COOKIE, path: enginePath(deps.provider, 'authorization') },
      endSessionUrl: new URL(enginePath(deps.provider, 'end_session'), config.issuer).href,
      dispatch: () => (dispatch ??= app.callback()),
    });
    app.use(adminConsole.routes());
    app.use(adminConsole.allowedMethods());
  }
  // 6. Our protected resource API (/api/*): CORS for registered origins only, then access
  //    tokens (Bearer, or DPoP with a proof) checked per route, then a budget per account.
  //    Its metadata (RFC 9728) first, where every 401 of the API points: public, CORS as
  //    discovery's, from the registry.
  app.use(abuse.resourceMetadataCors);
  const resourceMetadata = createResourceMetadataRouter({
    issuer: config.issuer,
    resources: deps.resources,
    // The resources whose tokens Portcullis checks itself; the admin API's only while it is on.
    servedHere: [accountApiIndicator(config.issuer), ...(config.adminApi ? [adminApiIndicator(config.issuer)] : [])],
  });
  app.use(resourceMetadata.routes());
  app.use(resourceMetadata.allowedMethods());
  app.use(abuse.apiCors);
  const accountApi = createAccountApiRouter({ ...deps, issuer: config.issuer, verifier: deps.accessTokens, replays: deps.tokenStore, perAccount: abuse.accounts });
  app.use(accountApi.routes());
  app.use(accountApi.allowedMethods());
  //    The admin API (/admin/api/v1): Portcullis' own tokens for its admin resource (Bearer
  //    or DPoP, admin:read / admin:write), then a budget per subject; JSON bodies only, and
  //    no CORS at all (no browser origin may call it).
  //    Only with ADMIN_API=true: off, its paths are unknown paths (404), document included.
  if (config.adminApi) {
    const adminApi = createAdminApiRouter({ ...deps, issuer: config.issuer, settings: settingsView(config), verifier: deps.accessTokens, replays: deps.tokenStore, perSubject: abuse.accounts });
    app.use(adminApi.routes());
    app.use(adminMethodProblems(adminApi.allowedMethods(), ADMIN_API_PATH));
  }
  // 7. Everything else is the protocol: discovery, authorize, token, userinfo, ...
  //    Where clients authenticate (token, introspection, revocation, PAR), the client the
  //    request claims is read once (Basic, or the form body, read and put back for the
  //    engine): a client that spent its budget is refused, then the attempt at its secret is
  //    reserved per client and address; after the engine answered, the attempt is settled
  //    and an authenticated client spends its budget. Around it: the engine's CORS answers
  //    kept only for registered origins. No body parser: the engine parses its own bodies.
  //    With DEVICE_FLOW, each user code typed at /device is counted per address before the
  //    engine looks it up: a wrong one is audited, too many are a 429 page.
  if (config.deviceFlow) {
    app.use(guardDeviceCodes({ path: enginePath(deps.provider, 'code_verification'), throttle: abuse.deviceCodeThrottle, render: deps.render, audit: deps.audit }));
  }
  //    The account page's client is served only to the browser that started its sign-in
  //    (account-page/own-attempt-guard.ts): a request for it written by anyone else is refused.
  const refuseSignIn = signInFailed(deps.render);
  app.use(
    requireOwnAttempt({
      authorizationPath: enginePath(deps.provider, 'authorization'),
      clientId: ACCOUNT_PAGE_CLIENT_ID,
      cookie: ACCOUNT_AUTHORIZATION_COOKIE,
      refuse: (ctx) => refuseSignIn(ctx, 'invalid_request'),
    }),
  );
  //    The admin console's client likewise, with the console off too: one registered while
  //    it was on stays in the registry, and nobody may be sent through it.
  app.use(
    requireOwnAttempt({
      authorizationPath: enginePath(deps.provider, 'authorization'),
      clientId: ADMIN_CONSOLE_CLIENT_ID,
      cookie: ADMIN_AUTHORIZATION_COOKIE,
      refuse: (ctx) => refuseSignIn(ctx, 'invalid_request'),
    }),
  );
  app.use(abuse.clients);
  app.use(abuse.clientAuthentication);
  app.use(abuse.providerCors);
  //    The engine is rebuilt when keys change; a request finishes on the one it started on.
  app.use(deps.mountProvider);
  return app;
}
