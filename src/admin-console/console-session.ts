import type { Context, Next } from 'koa';

import { answerSignedOut, type FirstPartySignIn, type PageSession, type PageSessions } from '../account-page/index.ts';
import type { GrantService } from '../oidc/index.ts';
import { ADMIN_CONSOLE_PATH } from './console-client.ts';
import type { ConsoleRights, RightsOf } from './console-rights.ts';

// Who is at the console. The session is the account page's kind (account-page/page-session.ts:
// a signed cookie on /admin naming the account and the grant its sign-in made for the
// console's client, checked against the database on every request: the grant alive, the
// account enabled), and on every request the account must hold a role the admin API's
// admin:read is bound to, as it is now (console-rights.ts); every change, one admin:write is
// bound to. A role taken away ends the console at the next click, as it ends the admin
// API's tokens, and ends its grant: the role given back later, the person signs in again
// (with the second factor the role asks for), rather than finding an old session revived.

export interface ConsoleState {
  consoleSession?: PageSession;
  consoleRights?: ConsoleRights;
}

/** A console request: its session once signed in, and the route's parameters. */
export type ConsoleContext = Context & { state: ConsoleState; params: Record<string, string> };

/** Why someone signed in is refused: no role for pages at all, or none for changes. */
export type ConsoleRefusal = 'read' | 'write';

/**
 * Signed in with the right to read, or: a page view (GET) starts a sign-in that comes back
 * to it, a form goes back to the overview (and from there to the sign-in); someone signed in
 * without the right is refused (`refuse`), their console session and grant ended.
 */
export function requireConsoleSession(deps: { sessions: PageSessions; signIn: FirstPartySignIn; grants: Pick<GrantService, 'revokeGrant'>; rightsOf: RightsOf; refuse: (ctx: ConsoleContext, missing: ConsoleRefusal, accountId: string) => void }) {
  return async (ctx: ConsoleContext, next: Next) => {
    const found = await deps.sessions.read(ctx);
    if (!found) return answerSignedOut(ctx, { ...deps, pagePath: ADMIN_CONSOLE_PATH });
    const rights = await deps.rightsOf(found.account);
    if (!rights.read) {
      deps.sessions.clear(ctx);
      await deps.grants.revokeGrant(found.grantId);
      return deps.refuse(ctx, 'read', found.account.id);
    }
    ctx.state.consoleSession = found;
    ctx.state.consoleRights = rights;
    await next();
  };
}

/** After requireConsoleSession, for every change: the right to write (a role bound to admin:write), or `refuse`. */
export function requireWriteRight(refuse: (ctx: ConsoleContext, missing: ConsoleRefusal, accountId: string) => void) {
  return async (ctx: ConsoleContext, next: Next) => {
    if (!ctx.state.consoleRights?.write) return refuse(ctx, 'write', consoleSession(ctx).account.id);
    await next();
  };
}

export const consoleSession = (ctx: { state: ConsoleState }): PageSession => ctx.state.consoleSession!;
