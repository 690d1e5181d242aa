import type Router from '@koa/router';

import type { AccessTokenState } from '../account-api/index.ts';
import { grantView, sessionView } from '../oidc/index.ts';
import { actedBy, userOfPath, type AdminApiDeps, type Guards } from './admin-context.ts';
import { endPersonsSession, revokePersonsGrant } from './user-operations.ts';

// What a person has granted, and taking it back, as `portcullis grants list` and
// `portcullis revoke` do: /users/{id}/grants lists the live grants (one per authorization:
// a device, a browser), DELETE of one ends it and every token issued under it, and
// /users/{id}/sign-out ends every grant, token and browser session of the account at once
// (the account stays). Each revocation is audited with the actor. One grant ended leaves
// the browser session and the remembered consent: the client may be authorized again
// without a page; sign-out is what cuts a person off.

// /users/{id}/sessions lists the browsers signed in, each with the clients authorized in
// it; DELETE of one signs that browser out: the session ends, and every grant made in it
// with its tokens (a lost device keeps nothing), audited once as session.ended.

export function addGrantRoutes(router: Router<AccessTokenState>, guards: Guards, deps: Pick<AdminApiDeps, 'accounts' | 'grants'>): void {
  const { accounts, grants } = deps;

  const current = (id: string) => userOfPath(accounts, id);

  router.get('/users/:id/grants', guards.read, async (ctx) => {
    const account = await current(ctx.params.id!);
    ctx.body = { grants: (await grants.listForAccount(account.id)).map(grantView) };
  });

  // Idempotent: a grant already ended (or never this person's) answers 204 and ends nothing
  // of anyone else's: the grant must be this account's.
  router.delete('/users/:id/grants/:grantId', guards.write, async (ctx) => {
    const account = await current(ctx.params.id!);
    // Recorded as grant.revoked by the service, once: concurrent DELETEs end it once.
    await revokePersonsGrant(grants, account.id, ctx.params.grantId!, actedBy(ctx));
    ctx.status = 204;
  });

  router.get('/users/:id/sessions', guards.read, async (ctx) => {
    const account = await current(ctx.params.id!);
    ctx.body = { sessions: (await grants.listSessions(account.id)).map(sessionView) };
  });

  // Idempotent, as for grants: a session already ended, or another person's, ends nothing
  // (204). Unlike a grant, ending a session ends what was made in it, so the answer counts it.
  router.delete('/users/:id/sessions/:sessionId', guards.write, async (ctx) => {
    const account = await current(ctx.params.id!);
    const result = await endPersonsSession(grants, account.id, ctx.params.sessionId!, actedBy(ctx));
    if (result?.ended) ctx.body = { grants: result.grants, tokens: result.tokens };
    else ctx.status = 204;
  });

  router.post('/users/:id/sign-out', guards.write, async (ctx) => {
    const account = await current(ctx.params.id!);
    const { grants: ended, tokens } = await accounts.revokeTokens(account.id, actedBy(ctx));
    ctx.body = { user: { id: account.id, email: account.email }, grants: ended, tokens };
  });
}
