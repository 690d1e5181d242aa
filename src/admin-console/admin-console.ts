import type Router from '@koa/router';
import type { Context } from 'koa';

import type { AccountService, SecondFactors } from '../accounts/index.ts';
import { accountPageUrl, createFirstPartySignIn, createPageSessions, type Dispatch } from '../account-page/index.ts';
import type { AuditSink, AuditTrail } from '../audit/index.ts';
import type { ClientService, ResourceService } from '../clients/index.ts';
import type { ThrottleReleaseStore } from '../db/index.ts';
import { pageLocale, sendPage, translator, type RenderPage } from '../interactions/index.ts';
import type { AccessTokenVerifier, GrantService, KeyRotation } from '../oidc/index.ts';
import { createAuditPages } from './audit-pages.ts';
import { createClientPages } from './client-pages.ts';
import { ADMIN_CONSOLE_CALLBACK_PATH, ADMIN_CONSOLE_CLIENT_ID, ADMIN_CONSOLE_PATH } from './console-client.ts';
import { createConsolePages } from './console-page.ts';
import { createConsoleRights } from './console-rights.ts';
import type { ConsoleState } from './console-session.ts';
import { createKeyPages } from './key-pages.ts';
import { createOverviewPage } from './overview-page.ts';
import { createResourcePages } from './resource-pages.ts';
import { createConsoleRouter, type ConsoleRefusalPage } from './routes.ts';
import { createUserPages } from './user-pages.ts';

// The admin console (/admin), put together: server-rendered pages with the site's templates
// and stylesheet, one small script (the audit trail's live tail), signed in through
// Portcullis itself. Each page calls the services the admin API's routes call, with their
// schemas, guards and audit (the person at the console is the actor), so the console can do
// nothing the API would refuse.

export interface AdminConsoleDeps {
  readonly issuer: string;
  readonly accounts: AccountService;
  readonly clients: ClientService;
  readonly resources: ResourceService;
  readonly grants: GrantService;
  readonly secondFactors: Pick<SecondFactors, 'reset'>;
  readonly audit: AuditSink;
  readonly auditTrail: AuditTrail;
  readonly keyRotation: Pick<KeyRotation, 'list' | 'rotate'>;
  readonly throttleReleases?: ThrottleReleaseStore | undefined;
  readonly accessTokens: Pick<AccessTokenVerifier, 'verify'>;
  readonly render: RenderPage;
  /** The cookie that carries a sign-in's state to the authorization endpoint (own-attempt-guard.ts checks it there). */
  readonly authorizationCookie: { readonly name: string; readonly path: string };
  readonly endSessionUrl: string;
  /** This app's request handler, for the in-process code exchange. */
  readonly dispatch: () => Dispatch;
}

export function createAdminConsole(deps: AdminConsoleDeps): Router<ConsoleState> {
  const show = createConsolePages(deps.render);
  // Refused pages: a sign-in that did not finish (400, start again; a person's Cancel too),
  // someone without the right to read (403; starting again would sign in as the same
  // person: the way on is signing out), or to write (403, back to the console).
  const refuse = (ctx: Context, kind: ConsoleRefusalPage, code: string) => {
    const t = translator(pageLocale(ctx));
    const page =
      kind === 'not-admin'
        ? { heading: 'Administrators only', message: 'The admin console is for accounts with the admin role. Sign in with such an account, or ask an administrator.', restartUrl: `${deps.endSessionUrl}?client_id=${encodeURIComponent(ADMIN_CONSOLE_CLIENT_ID)}`, status: 403 }
        : kind === 'read-only'
          ? { heading: 'Read only', message: "Your roles let you look, not change: changes need the role the admin API's admin:write scope is bound to. Ask an administrator.", restartUrl: ADMIN_CONSOLE_PATH, status: 403 }
          : { heading: t('account.signin-failed.title'), message: t('account.signin-failed.message'), restartUrl: ADMIN_CONSOLE_PATH, status: 400 };
    sendPage(ctx, deps.render, 'error', { title: page.heading, heading: page.heading, message: page.message, error: code, restartUrl: page.restartUrl }, page.status);
  };
  return createConsoleRouter({
    overview: createOverviewPage({ ...deps, show }),
    clients: createClientPages({ ...deps, show }),
    resources: createResourcePages({ ...deps, show }),
    users: createUserPages({ ...deps, show }),
    audit: createAuditPages({ ...deps, show }),
    keys: createKeyPages({ ...deps, show }),
    sessions: createPageSessions({ ...deps, cookie: { name: 'portcullis.admin', path: ADMIN_CONSOLE_PATH }, clientId: ADMIN_CONSOLE_CLIENT_ID }),
    signIn: createFirstPartySignIn({
      issuer: deps.issuer,
      clientId: ADMIN_CONSOLE_CLIENT_ID,
      redirectUri: accountPageUrl(deps.issuer, ADMIN_CONSOLE_CALLBACK_PATH),
      cookie: { name: 'portcullis.admin-signin', path: ADMIN_CONSOLE_PATH },
      authorizationCookie: deps.authorizationCookie,
      scope: 'openid email profile',
      dispatch: deps.dispatch,
    }),
    accounts: deps.accounts,
    rightsOf: createConsoleRights(deps),
    verifier: deps.accessTokens,
    grants: deps.grants,
    auditSink: deps.audit,
    render: deps.render,
    refuse,
    endSessionUrl: deps.endSessionUrl,
    clientId: ADMIN_CONSOLE_CLIENT_ID,
  });
}
