import { bodyParser } from '@koa/bodyparser';
import type { Middleware } from 'koa';

/** The largest form we read; the login form is well under 2 kB. Larger bodies get 413. */
export const FORM_LIMIT = '16kb';

/**
 * Reads an HTML form body: application/x-www-form-urlencoded only (415 for anything else,
 * before a byte is read), at most FORM_LIMIT.
 */
export function parseForm(): Middleware {
  const parse = bodyParser({ enableTypes: ['form'], formLimit: FORM_LIMIT, encoding: 'utf-8' });
  return async (ctx, next) => {
    if (ctx.is('application/x-www-form-urlencoded') === false) {
      ctx.throw(415, 'forms must be sent as application/x-www-form-urlencoded');
    }
    await parse(ctx, next);
  };
}
