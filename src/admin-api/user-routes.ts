import type Router from '@koa/router';

import type { AccessTokenState } from '../account-api/index.ts';
import { toValidationError } from '../errors.ts';
import { ADMIN_API_PATH } from './admin-resource.ts';
import { operatorGuard, resetFactors, unblockAccount } from './user-operations.ts';
import { actedBy, bodyObject, userOfPath, type AdminApiDeps, type AdminContext, type Guards } from './admin-context.ts';
import { etagOf, requireIfMatch } from './etag.ts';
import { userQuerySchema, userView } from './views.ts';

// /users: people's accounts through accounts/account-service.ts and its schemas
// (account-input.ts), as `portcullis users` uses them. Accounts are addressed by id only
// (an email in a URL ends up in access logs). Disabling ends every grant, token and session
// of the account at once, as the CLI's does.

export function addUserRoutes(router: Router<AccessTokenState>, guards: Guards, deps: Pick<AdminApiDeps, 'accounts' | 'audit' | 'secondFactors' | 'throttleReleases'>): void {
  const { accounts } = deps;

  const current = (id: string) => userOfPath(accounts, id);

  function answer(ctx: AdminContext, view: ReturnType<typeof userView>, status = 200) {
    ctx.status = status;
    ctx.set('ETag', etagOf(view));
    return view;
  }

  // Pages in id order; the cursor is the last id of the page before.
  router.get('/users', guards.read, async (ctx) => {
    const parsed = userQuerySchema.safeParse(ctx.query);
    if (!parsed.success) {
      throw toValidationError(parsed.error);
    }
    const { search, cursor, limit } = parsed.data;
    // One more than asked: whether there is a next page, without a count.
    const found = await accounts.page({ limit: limit + 1, after: cursor, search });
    const users = found.slice(0, limit).map(userView);
    ctx.body = { users, nextCursor: found.length > limit ? (users.at(-1)?.id ?? null) : null };
  });

  router.post('/users', guards.write, async (ctx) => {
    const account = await accounts.create(bodyObject(ctx) as Parameters<typeof accounts.create>[0], actedBy(ctx));
    ctx.set('Location', `${ADMIN_API_PATH}/users/${account.id}`);
    ctx.body = answer(ctx, userView(account), 201);
  });

  router.get('/users/:id', guards.read, async (ctx) => {
    ctx.body = answer(ctx, userView(await current(ctx.params.id!)));
  });

  // As every operator's change: nobody disables themself or takes their own admin role, and
  // no change leaves no enabled admin (user-operations.ts).
  const guard = (ctx: AdminContext, ifUpdatedAt?: Date) => {
    const token = ctx.state.accessToken;
    return operatorGuard(token.issuedTo === 'person' ? token.sub : undefined, ifUpdatedAt);
  };

  // Name, roles (the whole list) and the verified flag, from the representation read; written
  // only if still that version (a concurrent change makes this a 412).
  router.patch('/users/:id', guards.write, async (ctx) => {
    const before = await current(ctx.params.id!);
    const matched = requireIfMatch(ctx, etagOf(userView(before)));
    const account = await accounts.update(before.id, bodyObject(ctx), actedBy(ctx), guard(ctx, matched === 'version' ? before.updatedAt : undefined));
    ctx.body = answer(ctx, userView(account));
  });

  for (const [action, disabled] of [['disable', true], ['enable', false]] as const) {
    router.post(`/users/:id/${action}`, guards.write, async (ctx) => {
      const before = await current(ctx.params.id!);
      const account = await accounts.setDisabled(before.id, disabled, actedBy(ctx), guard(ctx));
      ctx.body = answer(ctx, userView(account));
    });
  }

  // A lost or stolen phone: the factors go, and every session, grant and token (user-operations.ts).
  router.post('/users/:id/reset-factors', guards.write, async (ctx) => {
    const account = await current(ctx.params.id!);
    const outcome = await resetFactors(deps, account, actedBy(ctx));
    ctx.body = { user: { id: account.id, email: account.email }, ...outcome };
  });

  // The password throttle's blocks of the account lifted on every address (user-operations.ts).
  const releases = deps.throttleReleases;
  if (releases) {
    router.post('/users/:id/unblock', guards.write, async (ctx) => {
      const account = await current(ctx.params.id!);
      await unblockAccount({ throttleReleases: releases, audit: deps.audit }, account, actedBy(ctx));
      ctx.body = { user: { id: account.id, email: account.email }, released: true };
    });
  }
}
