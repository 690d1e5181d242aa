import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

import type { Context, Middleware } from 'koa';

import { AppError } from '../errors.ts';

// CSRF protection of the interaction forms. A random secret lives in a signed, HttpOnly
// cookie; each form carries HMAC(secret, interaction uid). A forged POST from another site
// cannot read the cookie (nor, SameSite=Lax, send it), and a token lifted from one
// interaction's page is worthless for any other interaction or browser. The password reset
// and sign-up pages, outside /interaction, each have a cookie of their own on their own path.

export const CSRF_FIELD = 'csrf';

/** Which pages a secret cookie serves: its name and path. */
export interface CsrfScope {
  readonly cookie: string;
  readonly path: string;
}

export const INTERACTION_CSRF: CsrfScope = { cookie: 'portcullis.csrf', path: '/interaction' };
export const PASSWORD_RESET_CSRF: CsrfScope = { cookie: 'portcullis.csrf-reset', path: '/password-reset' };
export const SIGN_UP_CSRF: CsrfScope = { cookie: 'portcullis.csrf-signup', path: '/signup' };

function cookieOptions(ctx: Context, scope: CsrfScope) {
  return { path: scope.path, httpOnly: true, sameSite: 'lax', secure: ctx.secure, signed: true, overwrite: true } as const;
}

function tokenFor(secret: string, uid: string): string {
  return createHmac('sha256', secret).update(`portcullis-csrf:${uid}`).digest('base64url');
}

/** The token for a form of interaction `uid` (`''` outside one); sets the browser's secret cookie if it has none. */
export function issueCsrfToken(ctx: Context, uid: string, scope: CsrfScope = INTERACTION_CSRF): string {
  let secret = ctx.cookies.get(scope.cookie, { signed: true });
  if (!secret) {
    secret = randomBytes(32).toString('base64url');
    ctx.cookies.set(scope.cookie, secret, cookieOptions(ctx, scope));
  }
  return tokenFor(secret, uid);
}

export class CsrfError extends AppError {
  constructor() {
    super('invalid_csrf_token', 403, 'This form was not sent from the sign-in page, or it is out of date. Go back, reload the page and try again.');
  }
}

/** What a token is bound to, besides the browser: the interaction in the URL. */
const interactionUid = (ctx: Context) => (ctx.params as Record<string, string | undefined>).uid ?? '';

/**
 * Refuses a form POST whose token does not match this browser's secret and what the form
 * is bound to (the interaction in the URL; the account page: its session), before anything
 * reads or changes the interaction. Runs after the body parser.
 */
export function requireCsrfToken(scope: CsrfScope = INTERACTION_CSRF, boundTo: (ctx: Context) => string = interactionUid): Middleware {
  return async (ctx, next) => {
    const secret = ctx.cookies.get(scope.cookie, { signed: true });
    const body = ctx.request.body as Record<string, unknown> | undefined;
    const given = typeof body?.[CSRF_FIELD] === 'string' ? Buffer.from(body[CSRF_FIELD]) : undefined;
    const uid = boundTo(ctx);
    const expected = secret ? Buffer.from(tokenFor(secret, uid)) : undefined;
    if (!expected || !given || given.length !== expected.length || !timingSafeEqual(given, expected)) throw new CsrfError();
    await next();
  };
}
