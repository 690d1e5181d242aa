import type { Context, Next } from 'koa';

import { answerSignedOut, type FirstPartySignIn, type PageSession, type PageSessions } from '../account-page/index.ts';
import { ADMIN_ROLE } from '../admin-api/index.ts';
import type { GrantService } from '../oidc/index.ts';
import { ADMIN_CONSOLE_PATH } from './console-client.ts';

// Who is at the console. The session is the account page's kind (account-page/page-session.ts:
// a signed cookie on /admin naming the account and the grant its sign-in made for the
// console's client, checked against the database on every request: the grant alive, the
// account enabled), and on every request the account must hold the admin role as it is now:
// a role taken away ends the console at the next click, as it ends the admin API's tokens,
// and ends its grant: the role given back later, the person signs in again (with the second
// factor the role asks for), rather than finding an old session come back to life.

export interface ConsoleState {
  consoleSession?: PageSession;
}

/** A console request: its session once signed in, and the route's parameters. */
export type ConsoleContext = Context & { state: ConsoleState; params: Record<string, string> };

export function isAdmin(account: { readonly roles: readonly string[] }): boolean {
  return account.roles.includes(ADMIN_ROLE);
}

/**
 * Signed in as an admin, or: a page view (GET) starts a sign-in that comes back to it, a
 * form goes back to the overview (and from there to the sign-in); someone signed in without
 * the role gets `refuse`.
 */
export function requireConsoleSession(deps: { sessions: PageSessions; signIn: FirstPartySignIn; grants: Pick<GrantService, 'revokeGrant'>; refuse: (ctx: Context) => void }) {
  return async (ctx: ConsoleContext, next: Next) => {
    const found = await deps.sessions.read(ctx);
    if (!found) return answerSignedOut(ctx, { ...deps, pagePath: ADMIN_CONSOLE_PATH });
    if (!isAdmin(found.account)) {
      deps.sessions.clear(ctx);
      await deps.grants.revokeGrant(found.grantId);
      return deps.refuse(ctx);
    }
    ctx.state.consoleSession = found;
    await next();
  };
}

export const consoleSession = (ctx: { state: ConsoleState }): PageSession => ctx.state.consoleSession!;
