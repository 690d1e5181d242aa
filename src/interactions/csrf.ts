import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

import type { Context, Middleware } from 'koa';

import { AppError } from '../errors.ts';

// CSRF protection of the interaction forms. A random secret lives in a signed, HttpOnly
// cookie; each form carries HMAC(secret, interaction uid). A forged POST from another site
// cannot read the cookie (nor, SameSite=Lax, send it), and a token lifted from one
// interaction's page is worthless for any other interaction or browser.

const COOKIE = 'portcullis.csrf';
export const CSRF_FIELD = 'csrf';

function cookieOptions(ctx: Context) {
  return { path: '/interaction', httpOnly: true, sameSite: 'lax', secure: ctx.secure, signed: true, overwrite: true } as const;
}

function tokenFor(secret: string, uid: string): string {
  return createHmac('sha256', secret).update(`portcullis-csrf:${uid}`).digest('base64url');
}

/** The token for a form of interaction `uid`; sets the browser's secret cookie if it has none. */
export function issueCsrfToken(ctx: Context, uid: string): string {
  let secret = ctx.cookies.get(COOKIE, { signed: true });
  if (!secret) {
    secret = randomBytes(32).toString('base64url');
    ctx.cookies.set(COOKIE, secret, cookieOptions(ctx));
  }
  return tokenFor(secret, uid);
}

export class CsrfError extends AppError {
  constructor() {
    super('invalid_csrf_token', 403, 'This form was not sent from the sign-in page, or it is out of date. Go back, reload the page and try again.');
  }
}

/**
 * Refuses a form POST whose token does not match this browser's secret and the interaction
 * in the URL, before anything reads or changes the interaction. Runs after the body parser.
 */
export function requireCsrfToken(): Middleware {
  return async (ctx, next) => {
    const secret = ctx.cookies.get(COOKIE, { signed: true });
    const body = ctx.request.body as Record<string, unknown> | undefined;
    const given = typeof body?.[CSRF_FIELD] === 'string' ? Buffer.from(body[CSRF_FIELD]) : undefined;
    const uid = (ctx.params as Record<string, string | undefined>).uid ?? '';
    const expected = secret ? Buffer.from(tokenFor(secret, uid)) : undefined;
    if (!expected || !given || given.length !== expected.length || !timingSafeEqual(given, expected)) throw new CsrfError();
    await next();
  };
}
