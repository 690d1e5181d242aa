import type { AccountRecord, AccountService, SecondFactors } from '../accounts/index.ts';
import type { AuditSink } from '../audit/index.ts';
import type { ThrottleReleaseStore } from '../db/index.ts';
import { endPersonsSession, operatorGuard, resetFactors, revokePersonsGrant, unblockAccount, userOfPath, userQuerySchema, userView } from '../admin-api/index.ts';
import { NotFoundError, toValidationError, ValidationError } from '../errors.ts';
import { grantView, sessionView, type GrantService } from '../oidc/index.ts';
import { actedBy, shownVersion } from './acted-by.ts';
import { changedFields, checked, field, formOf, list, noticeOf, queryOf, refusalOf, seeOther, STALE, type ShowConsolePage } from './console-page.ts';
import { ADMIN_CONSOLE_PATH } from './console-client.ts';
import { consoleSession, type ConsoleContext } from './console-session.ts';

// People's accounts at the console: searched, created, changed (name, roles, verified),
// disabled and enabled, unblocked, their second factors reset, signed out everywhere, and
// their grants and browser sessions listed and ended: the admin API's user and grant routes,
// through the same services, with the same guards (nobody disables themself or takes their
// own admin role, and no change leaves no enabled admin).

const USERS_PATH = `${ADMIN_CONSOLE_PATH}/users`;
const PAGE_SIZE = 25;
export const userPath = (id: string) => `${USERS_PATH}/${encodeURIComponent(id)}`;

const NOTICES = {
  created: 'The account was created.',
  saved: 'The account was saved.',
  unchanged: 'Nothing was changed.',
  'nothing-ended': 'Nothing was ended: it had ended already, or it is not this person’s.',
  disabled: 'The account was disabled: its grants, tokens and sessions ended.',
  enabled: 'The account was enabled.',
  unblocked: 'Password attempts are allowed again for this account, from every address.',
  'factors-reset': 'The second factors were removed, and every session, grant and token of the account ended.',
  'signed-out': 'Every grant, token and browser session of the account ended.',
  'grant-revoked': 'The grant and its tokens were revoked.',
  'session-ended': 'The browser session ended, with the grants made in it.',
} as const;
type Notice = keyof typeof NOTICES;
const notice = (ctx: ConsoleContext) => noticeOf(ctx, NOTICES);

export interface UserPagesDeps {
  readonly accounts: AccountService;
  readonly grants: GrantService;
  readonly secondFactors: Pick<SecondFactors, 'reset'>;
  readonly audit: AuditSink;
  readonly throttleReleases?: ThrottleReleaseStore | undefined;
  readonly show: ShowConsolePage;
}

export function createUserPages(deps: UserPagesDeps) {
  const { accounts, grants, show } = deps;
  const current = (ctx: ConsoleContext) => userOfPath(accounts, ctx.params.id!);
  // As the admin API's: the person at the console keeps their own access.
  const guard = (ctx: ConsoleContext, ifUpdatedAt?: Date) => operatorGuard(consoleSession(ctx).account.id, ifUpdatedAt);

  async function showList(ctx: ConsoleContext, form: { values?: unknown; error?: string } = {}, status = 200) {
    const query = queryOf(ctx);
    const search = field(query, 'q');
    // The admin API's query schema: the same searches refused for the same reasons.
    const parsed = userQuerySchema.safeParse({ ...(search && { search }), ...(field(query, 'after') && { cursor: field(query, 'after') }), limit: String(PAGE_SIZE) });
    if (!parsed.success) {
      show(ctx, 'admin-users', 'users', { title: 'Users', users: [], search: search.slice(0, 200), error: toValidationError(parsed.error).message, errorOf: 'search', form: {} }, 400);
      return;
    }
    const found = await accounts.page({ limit: PAGE_SIZE + 1, after: parsed.data.cursor, search: parsed.data.search });
    const users = found.slice(0, PAGE_SIZE).map(userView);
    const next = found.length > PAGE_SIZE ? `${USERS_PATH}?${new URLSearchParams({ ...(search && { q: search }), after: users.at(-1)!.id }).toString()}` : undefined;
    show(ctx, 'admin-users', 'users', { title: 'Users', users, search, next, notice: notice(ctx), form: form.values ?? {}, error: form.error, errorOf: 'create' }, status);
  }

  async function showUser(ctx: ConsoleContext, form: { values?: unknown; error?: string; errorOf?: string } = {}, status = 200) {
    const account = await current(ctx);
    const user = userView(account);
    const [userGrants, sessions] = await Promise.all([grants.listForAccount(account.id), grants.listSessions(account.id)]);
    show(
      ctx,
      'admin-user',
      'users',
      {
        title: user.email,
        user,
        form: form.values ?? user,
        grants: userGrants.map(grantView),
        sessions: sessions.map(sessionView),
        canUnblock: deps.throttleReleases !== undefined,
        self: account.id === consoleSession(ctx).account.id,
        notice: notice(ctx),
        error: form.error,
        errorOf: form.errorOf,
      },
      status,
    );
  }

  /** Runs a change of the account at the path; refused, the account's page shows why where it was asked; done, the notice `done` (or the one the work chose) names. */
  async function change(ctx: ConsoleContext, errorOf: string, work: (account: AccountRecord) => Promise<unknown>, done?: Notice) {
    const account = await current(ctx);
    let outcome: unknown;
    const refused = await refusalOf(async () => {
      outcome = await work(account);
    });
    if (refused) return showUser(ctx, { error: refused.message, errorOf }, refused.status);
    const notice = typeof outcome === 'string' && Object.hasOwn(NOTICES, outcome) ? outcome : done;
    seeOther(ctx, `${userPath(account.id)}${notice ? `?done=${notice}` : ''}`);
  }

  return {
    list: (ctx: ConsoleContext) => showList(ctx),

    async create(ctx: ConsoleContext) {
      const body = formOf(ctx);
      const password = field(body, 'password');
      const values = { email: field(body, 'email'), name: field(body, 'name'), roles: list(body, 'roles', 'words'), emailVerified: checked(body, 'emailVerified') };
      let id: string | undefined;
      const refused = await refusalOf(async () => {
        id = (await accounts.create({ ...values, ...(password && { password }) }, actedBy(ctx))).id;
      });
      // The password is never put back into the form.
      if (refused || !id) return showList(ctx, { values, error: refused?.message }, refused?.status ?? 400);
      seeOther(ctx, `${userPath(id)}?done=created`);
    },

    show: (ctx: ConsoleContext) => showUser(ctx),

    async update(ctx: ConsoleContext) {
      const body = formOf(ctx);
      const values = { name: field(body, 'name'), roles: list(body, 'roles', 'words'), emailVerified: checked(body, 'emailVerified') };
      const account = await current(ctx);
      const changes = changedFields(values, userView(account));
      if (Object.keys(changes).length === 0) return seeOther(ctx, `${userPath(account.id)}?done=unchanged`);
      const refused = await refusalOf(() => accounts.update(account.id, changes, actedBy(ctx), guard(ctx, shownVersion(field(body, 'version')))));
      if (refused?.status === 412) return showUser(ctx, { error: STALE, errorOf: 'edit' }, 412);
      if (refused) return showUser(ctx, { values: { ...userView(account), ...values }, error: refused.message, errorOf: 'edit' }, refused.status);
      seeOther(ctx, `${userPath(account.id)}?done=saved`);
    },

    disable: (ctx: ConsoleContext) => change(ctx, 'standing', (account) => accounts.setDisabled(account.id, true, actedBy(ctx), guard(ctx)), 'disabled'),
    enable: (ctx: ConsoleContext) => change(ctx, 'standing', (account) => accounts.setDisabled(account.id, false, actedBy(ctx), guard(ctx)), 'enabled'),

    unblock: (ctx: ConsoleContext) =>
      change(
        ctx,
        'standing',
        async (account) => {
          const releases = deps.throttleReleases;
          if (!releases) throw new NotFoundError('unblocking is not served by this instance');
          await unblockAccount({ throttleReleases: releases, audit: deps.audit }, account, actedBy(ctx));
        },
        'unblocked',
      ),

    // Irreversible (the person sets up their factors again): only with the box ticked.
    resetFactors: (ctx: ConsoleContext) =>
      change(
        ctx,
        'standing',
        async (account) => {
          if (field(formOf(ctx), 'confirm') !== 'yes') throw new ValidationError('Tick the box to confirm removing the second factors.');
          return resetFactors(deps, account, actedBy(ctx));
        },
        'factors-reset',
      ),

    signOut: (ctx: ConsoleContext) => change(ctx, 'standing', (account) => accounts.revokeTokens(account.id, actedBy(ctx)), 'signed-out'),

    // A grant or session that is not this person's ends nothing (as the API's).
    revokeGrant: (ctx: ConsoleContext) =>
      change(ctx, 'grants', async (account): Promise<Notice> => ((await revokePersonsGrant(grants, account.id, field(formOf(ctx), 'grant'), actedBy(ctx))) ? 'grant-revoked' : 'nothing-ended')),
    endSession: (ctx: ConsoleContext) =>
      change(ctx, 'sessions', async (account): Promise<Notice> => ((await endPersonsSession(grants, account.id, field(formOf(ctx), 'session'), actedBy(ctx)))?.ended ? 'session-ended' : 'nothing-ended')),
  };
}

export type UserPages = ReturnType<typeof createUserPages>;

