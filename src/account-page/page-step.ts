import type { Context } from 'koa';
import { z } from 'zod';

import { MAILBOX_CODE_TTL_MS } from '../accounts/index.ts';
import type { PageSession } from './page-session.ts';
import { readSignedJson, writeSignedJson } from './signed-json-cookie.ts';

// Where a multi-step change of the account page (a new authenticator, a new address) keeps
// what its steps proved: sealed proofs in a signed cookie on /account, bound to the page
// session that made them and good for ten minutes. Another session's step, an expired one
// or a forged one is no step.

/** As long as the code mailed in the first step works. */
const STEP_TTL_MS = MAILBOX_CODE_TTL_MS;

export interface PageStep<T> {
  keep(ctx: Context, session: PageSession, step: T): void;
  /** This page session's step, unexpired; undefined for anything else. */
  read(ctx: Context, session: PageSession): T | undefined;
  drop(ctx: Context): void;
}

export function pageStep<S extends z.ZodRawShape>(cookie: string, shape: S): PageStep<z.infer<z.ZodObject<S>>> {
  const schema = z.object({ grantId: z.string(), exp: z.number(), step: z.object(shape) });
  const options = (ctx: Context) => ({ path: '/account', httpOnly: true, sameSite: 'lax', secure: ctx.secure, overwrite: true }) as const;
  return {
    keep(ctx, session, step) {
      writeSignedJson(ctx, cookie, { grantId: session.grantId, exp: Date.now() + STEP_TTL_MS, step }, { ...options(ctx), maxAge: STEP_TTL_MS });
    },
    read(ctx, session) {
      const kept = readSignedJson(ctx, cookie, schema);
      return kept && kept.grantId === session.grantId && kept.exp > Date.now() ? kept.step : undefined;
    },
    drop(ctx) {
      ctx.cookies.set(cookie, null, options(ctx));
    },
  };
}
