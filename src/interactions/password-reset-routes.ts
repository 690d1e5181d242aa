import Router from '@koa/router';
import type { Context } from 'koa';

import { requestFacts } from '../audit/index.ts';
import { issueCsrfToken, PASSWORD_RESET_CSRF, requireCsrfToken } from './csrf.ts';
import { parseForm } from './parse-form.ts';
import type { PasswordResetPages } from './password-reset.ts';

// The password reset pages outside a sign-in (password-reset.ts has the rules):
//
//   GET  /password-reset        "Forgot password?" on its own (no sign-in to go back to)
//   POST /password-reset        send the link (same answer for every address)
//   GET  /password-reset/new    the link from the mail: the new-password form
//   POST /password-reset/new    set it, spending the link
//
// The same request form inside a sign-in is /interaction/:uid/forgot (routes.ts). Forms
// carry a CSRF token of their own cookie, on this path.

export function createPasswordResetRouter(pages: PasswordResetPages): Router {
  const router = new Router({ prefix: '/password-reset' });
  const formPost = [parseForm(), requireCsrfToken(PASSWORD_RESET_CSRF)];
  const place = (ctx: Context) => ({ action: '/password-reset', csrf: issueCsrfToken(ctx, '', PASSWORD_RESET_CSRF), facts: requestFacts(ctx) });

  router.get('/', (ctx) => pages.showRequest(ctx, place(ctx)));
  router.post('/', ...formPost, (ctx) => pages.submitRequest(ctx, place(ctx)));
  router.get('/new', (ctx) => pages.showNewPassword(ctx));
  router.post('/new', ...formPost, (ctx) => pages.submitNewPassword(ctx));
  return router;
}
