import Router from '@koa/router';
import type { Context } from 'koa';
import { LRUCache } from 'lru-cache';

import type { AccountService } from '../accounts/index.ts';
import { ADMIN_SCOPES, REFUSAL_AUDIT_WINDOW_MS } from '../admin-api/index.ts';
import { requestFacts, type AuditSink } from '../audit/index.ts';
import { finishPageSignIn, type FirstPartySignIn, type PageSessions } from '../account-page/index.ts';
import { parseForm, requireCsrfToken, type RenderPage } from '../interactions/index.ts';
import type { AccessTokenVerifier, GrantService } from '../oidc/index.ts';
import type { AuditPages } from './audit-pages.ts';
import type { ClientPages } from './client-pages.ts';
import { ADMIN_CSRF } from './console-page.ts';
import { ADMIN_CONSOLE_PATH } from './console-client.ts';
import { consoleSession, requireConsoleSession, requireWriteRight, type ConsoleContext, type ConsoleRefusal, type ConsoleState } from './console-session.ts';
import type { RightsOf } from './console-rights.ts';
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

export type ConsoleRefusalPage = 'sign-in-failed' | 'not-admin' | 'read-only';

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
  /** What the person may do, from the admin API's scope bindings as they are now (console-rights.ts). */
  readonly rightsOf: RightsOf;
  readonly auditSink: AuditSink;
  readonly render: RenderPage;
  /** The page shown to a sign-in that did not finish, or to a person without the right to read or to write; `code` is the error code it names. */
  readonly refuse: (ctx: Context, kind: ConsoleRefusalPage, code: string) => void;
  readonly endSessionUrl: string;
  readonly clientId: string;
}

export function createConsoleRouter(deps: ConsoleRoutesDeps): Router<ConsoleState> {
  const router = new Router<ConsoleState>({ prefix: ADMIN_CONSOLE_PATH });
  // A refusal of someone signed in is audited as the admin API audits a token without the
  // scope: once per person in a window (a row per request would let them write the table
  // as fast as they can click).
  const recentlyAudited = new LRUCache<string, true>({ max: 10_000, ttl: REFUSAL_AUDIT_WINDOW_MS });
  const refuseRight = (ctx: Context, missing: ConsoleRefusal, accountId: string) => {
    if (!recentlyAudited.has(accountId)) {
      recentlyAudited.set(accountId, true);
      deps.auditSink.record({ type: 'admin.refused', actor: accountId, accountId, clientId: deps.clientId, ...requestFacts(ctx), data: { method: ctx.method, path: ctx.path.slice(0, 200), scope: missing === 'read' ? ADMIN_SCOPES.read : ADMIN_SCOPES.write } });
    }
    if (missing === 'read') deps.refuse(ctx, 'not-admin', 'access_denied');
    else deps.refuse(ctx, 'read-only', 'insufficient_scope');
  };
  const signedIn = requireConsoleSession({ sessions: deps.sessions, signIn: deps.signIn, grants: deps.grants, rightsOf: deps.rightsOf, refuse: refuseRight });
  const csrf = [parseForm(), requireCsrfToken(ADMIN_CSRF, (ctx) => (ctx.state as ConsoleState).consoleSession?.grantId ?? '')];
  // Every change: signed in, allowed to write (before the body is read), the form's token.
  const form = [signedIn, requireWriteRight(refuseRight), ...csrf];

  router.get('/', signedIn, (ctx) => deps.overview(ctx));

  // The access token names the grant the sign-in made: the console's session is that grant.
  // Someone without the right to read is refused here, the grant just made ended, the
  // attempt audited.
  router.get('/callback', async (ctx) => {
    const signedInAs = await finishPageSignIn(ctx, deps);
    if (!signedInAs.ok) return deps.refuse(ctx, 'sign-in-failed', signedInAs.reason);
    const account = await deps.accounts.findById(signedInAs.sub);
    if (!account || account.disabled || !(await deps.rightsOf(account)).read) {
      await deps.grants.revokeGrant(signedInAs.grantId);
      return refuseRight(ctx, 'read', signedInAs.sub);
    }
    deps.sessions.write(ctx, { sub: signedInAs.sub, grantId: signedInAs.grantId });
    ctx.redirect(signedInAs.returnTo);
  });

  // Signing out needs no right to write: anyone signed in may leave.
  router.post('/sign-out', signedIn, ...csrf, async (ctx) => {
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
