import { randomBytes } from 'node:crypto';

import type { Context } from 'koa';

// The device cookie: a random id, signed with the app's cookie keys, that a browser gets
// when someone signs in with it. The login throttle trusts a device that once succeeded
// for an account (it is not slowed by attacks on that account from elsewhere). It
// identifies nothing but "this browser signed in here before"; it grants nothing.

const COOKIE = 'portcullis.device';
const ID = /^[A-Za-z0-9_-]{22,64}$/;
/** As long as the throttle trusts a device after a success (90 days). */
const MAX_AGE_MS = 90 * 24 * 3600 * 1000;

function cookieOptions(ctx: Context) {
  return { path: '/interaction', httpOnly: true, sameSite: 'lax', secure: ctx.secure, signed: true, overwrite: true, maxAge: MAX_AGE_MS } as const;
}

/** The id of this browser's device cookie, if it has a valid (signed, well-formed) one. */
export function readDeviceId(ctx: Context): string | undefined {
  const id = ctx.cookies.get(COOKIE, { signed: true });
  return id && ID.test(id) ? id : undefined;
}

/** Gives this browser a device id (keeping the one it has) and returns it. */
export function rememberDevice(ctx: Context): string {
  const id = readDeviceId(ctx) ?? randomBytes(16).toString('base64url');
  ctx.cookies.set(COOKIE, id, cookieOptions(ctx));
  return id;
}
