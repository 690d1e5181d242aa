import { randomBytes } from 'node:crypto';

import type { Context } from 'koa';

import { AppError } from '../errors.ts';
import { TRUST_MS, type AuthAttempt, type ThrottleVerdict } from './login-throttle.ts';

// The login throttle at the login form: the attempt of a request, the device cookie, and
// the refusal.
//
// The device cookie is a random id, signed with the app's cookie keys, that a browser gets
// when someone signs in with it. While an account is under attack from elsewhere, a login
// from a device that once succeeded for that account is not slowed. It identifies nothing
// but "this browser signed in here before"; it grants nothing.

const COOKIE = 'portcullis.device';
const ID = /^[A-Za-z0-9_-]{22,64}$/;

function cookieOptions(ctx: Context) {
  return { path: '/interaction', httpOnly: true, sameSite: 'lax', secure: ctx.secure, signed: true, overwrite: true, maxAge: TRUST_MS } as const;
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

/** The attempt a login form post makes: the email as typed, the address, the device. */
export function loginAttempt(ctx: Context, email: string): AuthAttempt {
  return { subject: email, ip: ctx.ip, device: readDeviceId(ctx) };
}

export class TooManyAttemptsError extends AppError {
  readonly retryAfterSeconds: number;

  constructor(message: string, retryAfterSeconds: number) {
    super('too_many_requests', 429, message);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

function wait(seconds: number): string {
  if (seconds < 90) return seconds === 1 ? '1 second' : `${seconds} seconds`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minutes`;
}

/**
 * Refuses a throttled login: 429, Retry-After, and the error page (or JSON) through the
 * error handler. The same words whether or not the account exists.
 */
export function refuseLogin(ctx: Context, verdict: Extract<ThrottleVerdict, { allowed: false }>): never {
  const seconds = Math.max(1, verdict.retryAfterSeconds);
  ctx.set('Retry-After', String(seconds));
  throw new TooManyAttemptsError(
    verdict.blocked
      ? `Too many failed sign-ins for this account from your network. Try again in ${wait(seconds)}.`
      : `Too many failed sign-ins. Wait ${wait(seconds)} before trying again.`,
    seconds,
  );
}
