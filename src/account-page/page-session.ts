import type { Context } from 'koa';
import { z } from 'zod';

import type { AccountRecord, AccountService } from '../accounts/index.ts';
import type { GrantService } from '../oidc/index.ts';
import { readSignedJson, writeSignedJson } from './signed-json-cookie.ts';

// A person signed in to the account page. The cookie (signed with the app's keys, HttpOnly,
// SameSite=Lax, on /account only) names the account and the grant its sign-in made for
// the page's client; it holds no token. Every request checks, against the database, that:
// - the grant still exists, is the account's and the page's client's: signing out, "sign
//   out everywhere", an operator ending the session or revoking the account's tokens all
//   end that grant, and with it the page (no separate session to forget);
// - the account exists and is enabled;
// - the cookie is younger than MAX_AGE: the page then signs in again (which the browser's
//   own Portcullis session may answer without asking: the changes that matter ask for the
//   password each time).

export const PAGE_SESSION_MAX_AGE_MS = 60 * 60 * 1000;

const sessionSchema = z.object({ sub: z.string().min(1).max(128), grantId: z.string().min(1).max(128), iat: z.number() });

export interface PageSession {
  readonly account: AccountRecord;
  readonly grantId: string;
}

export interface PageSessions {
  read(ctx: Context): Promise<PageSession | undefined>;
  write(ctx: Context, session: { readonly sub: string; readonly grantId: string }): void;
  clear(ctx: Context): void;
}

export function createPageSessions(deps: {
  readonly cookie: { readonly name: string; readonly path: string };
  readonly clientId: string;
  readonly accounts: Pick<AccountService, 'findById'>;
  readonly grants: Pick<GrantService, 'find'>;
  readonly now?: () => number;
}): PageSessions {
  const now = deps.now ?? Date.now;
  // Lax, not Strict: a link to the page from another site (an app's "your account") is a
  // cross-site chain of redirects to the end, and a Strict cookie set at its callback would
  // never come back with it, starting the sign-in again and again. The forms need no more:
  // a cross-site POST carries no Lax cookie, and each form's token is bound to the session.
  const options = (ctx: Context) => ({ path: deps.cookie.path, httpOnly: true, sameSite: 'lax', secure: ctx.secure, signed: true, overwrite: true }) as const;

  return {
    async read(ctx) {
      const parsed = readSignedJson(ctx, deps.cookie.name, sessionSchema);
      if (!parsed || now() - parsed.iat * 1000 > PAGE_SESSION_MAX_AGE_MS) return undefined;
      const grant = await deps.grants.find(parsed.grantId);
      if (!grant || grant.accountId !== parsed.sub || grant.clientId !== deps.clientId) return undefined;
      const account = await deps.accounts.findById(parsed.sub);
      if (!account || account.disabled) return undefined;
      return { account, grantId: parsed.grantId };
    },
    write(ctx, session) {
      const value = { sub: session.sub, grantId: session.grantId, iat: Math.floor(now() / 1000) };
      writeSignedJson(ctx, deps.cookie.name, value, { ...options(ctx), maxAge: PAGE_SESSION_MAX_AGE_MS });
    },
    clear(ctx) {
      if (ctx.cookies.get(deps.cookie.name) !== undefined) ctx.cookies.set(deps.cookie.name, null, options(ctx));
    },
  };
}
