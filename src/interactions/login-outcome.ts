import type { Context } from 'koa';
import { z } from 'zod';

import type { LockoutReason } from './login-throttle.ts';

// Post/Redirect/Get for the login form. A browser that posts the form and is refused (a
// wrong password, a lockout, or a refused passkey) is redirected to the interaction's page, which shows the
// outcome once; Back and reload then repeat a GET, never the POST with the password.
// The outcome travels in a signed, HttpOnly cookie scoped to this interaction's path and
// read once: the email as typed, and for a lockout when the person may try again.

const COOKIE = 'portcullis.login-outcome';
const MAX_AGE_MS = 10 * 60 * 1000;

/** Every reason the throttle gives (the compiler checks the list against LockoutReason). */
const REASONS = ['slow', 'device', 'network'] as const satisfies readonly LockoutReason[];

const outcomeSchema = z.union([
  z.object({ kind: z.literal('failed'), email: z.string().max(254) }),
  z.object({ kind: z.literal('locked'), email: z.string().max(254), reason: z.enum(REASONS), until: z.number().int() }),
  z.object({ kind: z.literal('passkey_failed') }),
]);

export type LoginOutcome = z.infer<typeof outcomeSchema>;

function cookieOptions(ctx: Context, uid: string) {
  return { path: `/interaction/${encodeURIComponent(uid)}`, httpOnly: true, sameSite: 'lax', secure: ctx.secure, signed: true, overwrite: true } as const;
}

/**
 * Whether this POST is a browser navigation (a person submitting the form), which gets a
 * redirect; a script (Sec-Fetch-Mode absent) keeps the direct answer and its status.
 */
export function isNavigation(ctx: Context): boolean {
  return ctx.get('Sec-Fetch-Mode') === 'navigate';
}

export function keepOutcome(ctx: Context, uid: string, outcome: LoginOutcome): void {
  ctx.cookies.set(COOKIE, Buffer.from(JSON.stringify(outcome)).toString('base64url'), { ...cookieOptions(ctx, uid), maxAge: MAX_AGE_MS });
}

/** The outcome kept for this interaction, removed as it is read; undefined if none or not ours. */
export function takeOutcome(ctx: Context, uid: string): LoginOutcome | undefined {
  const stored = ctx.cookies.get(COOKIE, { signed: true });
  if (!stored) return undefined;
  ctx.cookies.set(COOKIE, null, cookieOptions(ctx, uid));
  try {
    const parsed = outcomeSchema.safeParse(JSON.parse(Buffer.from(stored, 'base64url').toString('utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

