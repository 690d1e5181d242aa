import Router from '@koa/router';
import type { Context, Next } from 'koa';

import { requestFacts } from '../audit/index.ts';
import { pageLocale, parseForm, type RenderPage, requireCsrfToken, sendPage, translator } from '../interactions/index.ts';
import type { AccessTokenVerifier, GrantService } from '../oidc/index.ts';
import { ACCOUNT_CSRF, type AccountPage } from './account-page.ts';
import { ACCOUNT_PAGE_PATH } from './account-client.ts';
import type { AuthenticatorSetup } from './authenticator-setup.ts';
import type { PasskeySetup } from './passkey-setup.ts';
import type { EmailChangePages } from './email-change.ts';
import { answerSignedOut, finishPageSignIn, type FirstPartySignIn } from './first-party-sign-in.ts';
import type { PageSession, PageSessions } from './page-session.ts';

// The account page's paths. Signed out, any of them starts a sign-in through Portcullis
// itself (first-party-sign-in.ts); every form is a POST with the page's CSRF token, bound
// to the session it was shown in.
//
//   GET  /account                  the page (signed out: to the sign-in)
//   GET  /account/callback         the sign-in's end: the code exchanged, the session made
//   POST /account/profile          the name
//   POST /account/password         current and new password
//   POST /account/email            current password and a new address: a code mailed to the current one
//   POST /account/email/code       that code back: a link mailed to the new address
//   GET  /account/email/confirm    that link, signed in as the account that asked: what will change, and a button
//   POST /account/email/confirm    the change, made
//   POST /account/authenticator    current password: a code mailed to the account's address
//   POST /account/authenticator/mailbox  that code back: the new app's secret (QR code and key)
//   POST /account/authenticator/confirm  a code of the app: set up; recovery codes shown once
//   POST /account/authenticator/remove  current password: a mailed code, then the app removed (to replace it: remove, then set up)
//   POST /account/recovery-codes   current password: a mailed code, then ten new recovery codes, shown once
//   POST /account/passkeys         a name and the current password: a code mailed to the account's address
//                                  (that code back: POST /account/authenticator/mailbox, then the ceremony)
//   POST /account/passkeys/register  the new passkey's answer: stored; recovery codes shown once if it is the first factor
//   POST /account/passkeys/remove  one of the account's passkeys and the current password: a mailed code, then removed
//                                  (each mailed code comes back at POST /account/authenticator/mailbox)
//   POST /account/sessions/end     sign one browser out (one of the account's own)
//   POST /account/sessions/end-all sign out everywhere: every browser session, this one too
//   POST /account/apps/revoke      every authorization of one app
//   POST /account/sign-out         this page's session, then the engine's sign-out page

export interface AccountRoutesDeps {
  readonly page: AccountPage;
  readonly emailChange: EmailChangePages;
  readonly authenticator: AuthenticatorSetup;
  readonly passkeys: PasskeySetup;
  readonly sessions: PageSessions;
  readonly signIn: FirstPartySignIn;
  readonly verifier: Pick<AccessTokenVerifier, 'verify'>;
  readonly grants: Pick<GrantService, 'revokeGrant'>;
  readonly render: RenderPage;
  /** The engine's sign-out page (end_session, under the issuer), where the browser's own session can end too. */
  readonly endSessionUrl: string;
  readonly clientId: string;
}

interface AccountState {
  accountSession?: PageSession;
}

export function createAccountRouter(deps: AccountRoutesDeps): Router<AccountState> {
  const router = new Router<AccountState>({ prefix: ACCOUNT_PAGE_PATH });
  const session = (ctx: { state: AccountState }) => ctx.state.accountSession!;

  /**
   * Signed in, or: a page view starts a sign-in that comes back to it (the change-of-address
   * link too; a path of this router, so never elsewhere), a form goes back to the page.
   */
  const signedIn = async (ctx: Context & { state: AccountState }, next: Next) => {
    const found = await deps.sessions.read(ctx);
    if (!found) return answerSignedOut(ctx, { ...deps, pagePath: ACCOUNT_PAGE_PATH });
    ctx.state.accountSession = found;
    await next();
  };
  const form = [signedIn, parseForm(), requireCsrfToken(ACCOUNT_CSRF, (ctx) => (ctx.state as AccountState).accountSession?.grantId ?? '')];

  router.get('/', signedIn, (ctx) => deps.page.show(ctx, session(ctx)));

  router.get('/callback', async (ctx) => {
    // The access token names the grant the sign-in made: the page's session is that grant.
    const signedInAs = await finishPageSignIn(ctx, deps);
    if (!signedInAs.ok) return signInFailed(deps.render)(ctx, signedInAs.reason);
    deps.sessions.write(ctx, { sub: signedInAs.sub, grantId: signedInAs.grantId });
    ctx.redirect(signedInAs.returnTo);
  });

  router.post('/profile', ...form, (ctx) => deps.page.updateProfile(ctx, session(ctx)));
  router.post('/password', ...form, (ctx) => deps.page.changePassword(ctx, session(ctx)));
  router.post('/email', ...form, (ctx) => deps.emailChange.request(ctx, session(ctx)));
  router.post('/email/code', ...form, (ctx) => deps.emailChange.proveCurrentMailbox(ctx, session(ctx)));
  router.post('/authenticator', ...form, (ctx) => deps.authenticator.start(ctx, session(ctx), 'app'));
  router.post('/authenticator/remove', ...form, (ctx) => deps.authenticator.start(ctx, session(ctx), 'remove-app'));
  router.post('/recovery-codes', ...form, (ctx) => deps.authenticator.start(ctx, session(ctx), 'renew-codes'));
  router.post('/passkeys', ...form, (ctx) => deps.authenticator.start(ctx, session(ctx), 'passkey'));
  router.post('/passkeys/register', ...form, (ctx) => deps.passkeys.register(ctx, session(ctx)));
  router.post('/passkeys/remove', ...form, (ctx) => deps.authenticator.start(ctx, session(ctx), 'remove-passkey'));
  router.post('/authenticator/mailbox', ...form, (ctx) => deps.authenticator.proveMailbox(ctx, session(ctx)));
  router.post('/authenticator/confirm', ...form, (ctx) => deps.authenticator.confirm(ctx, session(ctx)));
  router.get('/email/confirm', signedIn, (ctx) => deps.emailChange.show(ctx, session(ctx)));
  router.post('/email/confirm', ...form, (ctx) => deps.emailChange.confirm(ctx, session(ctx)));
  router.post('/sessions/end', ...form, (ctx) => deps.page.endSession(ctx, session(ctx)));
  router.post('/apps/revoke', ...form, (ctx) => deps.page.revokeApp(ctx, session(ctx)));

  router.post('/sessions/end-all', ...form, async (ctx) => {
    await deps.page.endAllSessions(ctx, session(ctx));
    deps.sessions.clear(ctx);
    ctx.status = 303;
    ctx.redirect(ACCOUNT_PAGE_PATH);
  });

  router.post('/sign-out', ...form, async (ctx) => {
    const { account, grantId } = session(ctx);
    await deps.grants.revokeGrant(grantId, 'logout', { actor: account.id, ...requestFacts(ctx) });
    deps.sessions.clear(ctx);
    ctx.status = 303;
    ctx.redirect(`${deps.endSessionUrl}?client_id=${encodeURIComponent(deps.clientId)}`);
  });

  return router;
}

/** The page for a sign-in to the account page that did not finish: 400, leading back to the page's start. */
export function signInFailed(render: RenderPage) {
  return (ctx: Context, error: string): void => {
    const t = translator(pageLocale(ctx));
    sendPage(ctx, render, 'error', { title: t('account.signin-failed.title'), heading: t('account.signin-failed.title'), message: t('account.signin-failed.message'), error, restartUrl: ACCOUNT_PAGE_PATH }, 400);
  };
}
