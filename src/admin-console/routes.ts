import Router from '@koa/router';
import type { Context } from 'koa';

import type { AccountService } from '../accounts/index.ts';
import { requestFacts, type AuditSink } from '../audit/index.ts';
import type { FirstPartySignIn, PageSessions } from '../account-page/index.ts';
import { parseForm, requireCsrfToken, type RenderPage } from '../interactions/index.ts';
import type { AccessTokenVerifier, GrantService } from '../oidc/index.ts';
import type { AuditPages } from './audit-pages.ts';
import type { ClientPages } from './client-pages.ts';
import { ADMIN_CSRF } from './console-page.ts';
import { ADMIN_CONSOLE_PATH } from './console-client.ts';
import { consoleSession, isAdmin, requireConsoleSession, type ConsoleContext, type ConsoleState } from './console-session.ts';
import type { KeyPages } from './key-pages.ts';
import type { ResourcePages } from './resource-pages.ts';
import type { UserPages } from './user-pages.ts';

// The admin console's paths. Signed out, a page starts a sign-in through Portcullis itself
// (account-page/first-party-sign-in.ts); signed in, every request needs the admin role as it
// is now; every form is a POST with the console's CSRF token, bound to its session. The
// admin API (/admin/api/v1) is another router: nothing here answers under it.
//
//   GET  /admin                                 overview: counts, latest events and refusals
//   GET  /admin/callback                        the sign-in's end
//   POST /admin/sign-out                        this console's session, then the engine's sign-out page
//   GET  /admin/clients · POST /admin/clients   list; register (a secret shown once)
//   GET  /admin/clients/:id · POST (save) · POST …/secret (rotate, shown once) · POST …/delete
//   GET  /admin/resources · POST                list; register
//   GET  /admin/resources/:indicator · POST (save) · POST …/delete
//   GET  /admin/users?q=&after= · POST          search; create
//   GET  /admin/users/:id · POST (save) · POST …/disable · …/enable · …/unblock · …/reset-factors
//        · …/sign-out · …/grants/revoke · …/sessions/end
//   GET  /admin/audit?type=&accountId=&clientId=&since=&until=&cursor=   filtered, newest first
//   GET  /admin/audit/tail?after=&…             JSON for the live tail
//   GET  /admin/keys · POST /admin/keys/rotate  list; announce new keys

export interface ConsoleRoutesDeps {
  readonly overview: (ctx: ConsoleContext) => Promise<void>;
  readonly clients: ClientPages;
  readonly resources: ResourcePages;
  readonly users: UserPages;
  readonly audit: AuditPages;
  readonly keys: KeyPages;
  readonly sessions: PageSessions;
  readonly accounts: Pick<AccountService, 'findById'>;
  readonly signIn: FirstPartySignIn;
  readonly verifier: Pick<AccessTokenVerifier, 'verify'>;
  readonly grants: Pick<GrantService, 'revokeGrant'>;
  readonly auditSink: AuditSink;
  readonly render: RenderPage;
  /** The page a sign-in that failed, or a person without the role, is shown (an error page leading back). */
  readonly refuse: (ctx: Context, error: string, status: number) => void;
  readonly endSessionUrl: string;
  readonly clientId: string;
}

export function createConsoleRouter(deps: ConsoleRoutesDeps): Router<ConsoleState> {
  const router = new Router<ConsoleState>({ prefix: ADMIN_CONSOLE_PATH });
  const signedIn = requireConsoleSession({ sessions: deps.sessions, signIn: deps.signIn, grants: deps.grants, refuse: (ctx) => deps.refuse(ctx, 'access_denied', 403) });
  const form = [signedIn, parseForm(), requireCsrfToken(ADMIN_CSRF, (ctx) => (ctx.state as ConsoleState).consoleSession?.grantId ?? '')];

  router.get('/', signedIn, (ctx) => deps.overview(ctx));

  // The access token names the grant the sign-in made: the console's session is that grant.
  // Someone without the admin role is refused here, the grant just made ended, the attempt
  // audited (as the admin API audits a token without the scope).
  router.get('/callback', async (ctx) => {
    const outcome = await deps.signIn.finish(ctx);
    const token = outcome.ok ? await deps.verifier.verify(outcome.signedIn.accessToken) : undefined;
    if (!outcome.ok || !token?.grantId || token.sub !== outcome.signedIn.sub || token.clientId !== deps.clientId) {
      // A grant the console's client was given but will not use is not left behind.
      if (token?.grantId && token.clientId === deps.clientId) await deps.grants.revokeGrant(token.grantId);
      return deps.refuse(ctx, outcome.ok ? 'invalid_grant' : outcome.reason, 400);
    }
    const account = await deps.accounts.findById(outcome.signedIn.sub);
    if (!account || account.disabled || !isAdmin(account)) {
      await deps.grants.revokeGrant(token.grantId);
      deps.auditSink.record({ type: 'admin.refused', actor: outcome.signedIn.sub, accountId: outcome.signedIn.sub, clientId: deps.clientId, ...requestFacts(ctx), data: { method: ctx.method, path: ADMIN_CONSOLE_PATH, scope: 'role admin' } });
      return deps.refuse(ctx, 'access_denied', 403);
    }
    deps.sessions.write(ctx, { sub: outcome.signedIn.sub, grantId: token.grantId });
    ctx.redirect(outcome.returnTo);
  });

  router.post('/sign-out', ...form, async (ctx) => {
    const { account, grantId } = consoleSession(ctx);
    await deps.grants.revokeGrant(grantId, 'logout', { actor: account.id, ...requestFacts(ctx) });
    deps.sessions.clear(ctx);
    ctx.status = 303;
    ctx.redirect(`${deps.endSessionUrl}?client_id=${encodeURIComponent(deps.clientId)}`);
  });

  const { clients, resources, users, audit, keys } = deps;
  router.get('/clients', signedIn, (ctx) => clients.list(ctx));
  router.post('/clients', ...form, (ctx) => clients.create(ctx));
  router.get('/clients/:clientId', signedIn, (ctx) => clients.show(ctx));
  router.post('/clients/:clientId', ...form, (ctx) => clients.update(ctx));
  router.post('/clients/:clientId/secret', ...form, (ctx) => clients.rotateSecret(ctx));
  router.post('/clients/:clientId/delete', ...form, (ctx) => clients.remove(ctx));

  router.get('/resources', signedIn, (ctx) => resources.list(ctx));
  router.post('/resources', ...form, (ctx) => resources.create(ctx));
  router.get('/resources/:indicator', signedIn, (ctx) => resources.show(ctx));
  router.post('/resources/:indicator', ...form, (ctx) => resources.update(ctx));
  router.post('/resources/:indicator/delete', ...form, (ctx) => resources.remove(ctx));

  router.get('/users', signedIn, (ctx) => users.list(ctx));
  router.post('/users', ...form, (ctx) => users.create(ctx));
  router.get('/users/:id', signedIn, (ctx) => users.show(ctx));
  router.post('/users/:id', ...form, (ctx) => users.update(ctx));
  router.post('/users/:id/disable', ...form, (ctx) => users.disable(ctx));
  router.post('/users/:id/enable', ...form, (ctx) => users.enable(ctx));
  router.post('/users/:id/unblock', ...form, (ctx) => users.unblock(ctx));
  router.post('/users/:id/reset-factors', ...form, (ctx) => users.resetFactors(ctx));
  router.post('/users/:id/sign-out', ...form, (ctx) => users.signOut(ctx));
  router.post('/users/:id/grants/revoke', ...form, (ctx) => users.revokeGrant(ctx));
  router.post('/users/:id/sessions/end', ...form, (ctx) => users.endSession(ctx));

  router.get('/audit', signedIn, (ctx) => audit.list(ctx));
  router.get('/audit/tail', signedIn, (ctx) => audit.tail(ctx));

  router.get('/keys', signedIn, (ctx) => keys.list(ctx));
  router.post('/keys/rotate', ...form, (ctx) => keys.rotate(ctx));

  return router;
}
