import { createHash } from 'node:crypto';

import type { Context } from 'koa';
import { z } from 'zod';

import type { AccountRecord } from '../accounts/index.ts';

// A sign-in between its password and its second factor. The person the password (or the
// session, for a step-up) proved, and, before an enrolment, the code mailed for it and then
// the secret it shows (both sealed), are kept in a signed, HttpOnly cookie scoped to this
// interaction's path and naming its uid, for ten minutes: no one can write one (the app's
// cookie keys sign it), and one from another interaction or browser is worthless. Only a
// second factor, checked on the server, turns it into a finished login.

const COOKIE = 'portcullis.pending-login';
const MAX_AGE_MS = 10 * 60 * 1000;

const pendingSchema = z.object({
  uid: z.string(),
  accountId: z.string(),
  until: z.number().int(),
  /**
   * The password was checked in this interaction (false: a step-up over the session's
   * earlier sign-in). Only such a sign-in may enrol an authenticator, and only it names
   * pwd in amr on its own.
   */
  password: z.boolean(),
  /** The account's password as it was (credentialOf): a sign-in pending when it changed is over. */
  credential: z.string(),
  /** The code mailed before an enrolment in this sign-in, sealed (accounts/mailbox-proof.ts). */
  mailbox: z.string().optional(),
  /** No code could be mailed (too many lately, or the queue was full): a new sign-in may try after this time (ms). */
  mailboxWaitUntil: z.number().int().optional(),
  /** That was the mail queue refusing, not the count. */
  mailboxUnsent: z.boolean().optional(),
  /** The mailed code was typed back: this sign-in may be shown an enrolment secret. */
  mailboxProven: z.boolean().optional(),
  /** The secret shown for enrolment in this sign-in, sealed (accounts/second-factors.ts). */
  enrolment: z.string().optional(),
  /** The authenticator was enrolled in this sign-in (its recovery codes shown): it counts as the second factor. */
  enrolled: z.boolean().optional(),
});

export type PendingLogin = z.infer<typeof pendingSchema>;

/**
 * A fingerprint of the account's password hash: a new password (a reset, an operator's)
 * makes every sign-in that proved the old one worthless before its second step. One way:
 * the hash's own salt keeps it from testing guesses.
 */
export function credentialOf(account: Pick<AccountRecord, 'passwordHash'>): string {
  return createHash('sha256').update(account.passwordHash ?? '').digest('base64url').slice(0, 22);
}

function cookieOptions(ctx: Context, uid: string) {
  return { path: `/interaction/${encodeURIComponent(uid)}`, httpOnly: true, sameSite: 'lax', secure: ctx.secure, signed: true, overwrite: true } as const;
}

/**
 * Keeps the pending sign-in; one kept before (it carries `until`) keeps its ten minutes from
 * the password, however often a page keeps it again.
 */
export function keepPendingLogin(ctx: Context, pending: Omit<PendingLogin, 'until'> & { until?: number }, now = Date.now()): void {
  const until = pending.until && pending.until > now ? Math.min(pending.until, now + MAX_AGE_MS) : now + MAX_AGE_MS;
  const value: PendingLogin = { ...pending, until };
  ctx.cookies.set(COOKIE, Buffer.from(JSON.stringify(value)).toString('base64url'), { ...cookieOptions(ctx, pending.uid), maxAge: until - now });
}

/** This interaction's pending sign-in, while unexpired; undefined if none, not ours or tampered with. */
export function readPendingLogin(ctx: Context, uid: string, now = Date.now()): PendingLogin | undefined {
  const stored = ctx.cookies.get(COOKIE, { signed: true });
  if (!stored) return undefined;
  try {
    const parsed = pendingSchema.safeParse(JSON.parse(Buffer.from(stored, 'base64url').toString('utf8')));
    if (!parsed.success || parsed.data.uid !== uid || parsed.data.until <= now) return undefined;
    return parsed.data;
  } catch {
    return undefined;
  }
}

export function dropPendingLogin(ctx: Context, uid: string): void {
  ctx.cookies.set(COOKIE, null, cookieOptions(ctx, uid));
}
