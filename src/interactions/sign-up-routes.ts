import Router from '@koa/router';
import type { Context } from 'koa';

import { requestFacts } from '../audit/index.ts';
import { issueCsrfToken, requireCsrfToken, SIGN_UP_CSRF } from './csrf.ts';
import { parseForm } from './parse-form.ts';
import type { SignUpPages } from './sign-up.ts';

// The sign-up pages outside a sign-in (sign-up.ts has the rules):
//
//   GET  /signup[?invite=]     the address form (an invitation's, or open sign-up's)
//   POST /signup               send the link (same answer for every address)
//   GET  /signup/complete      the link from the mail: the name-and-password form
//   POST /signup/complete      make the account, spending the link
//
// The same address form inside a sign-in is /interaction/:uid/signup (routes.ts). Forms
// carry a CSRF token of their own cookie, on this path.

export function createSignUpRouter(pages: SignUpPages): Router {
  const router = new Router({ prefix: '/signup' });
  const formPost = [parseForm(), requireCsrfToken(SIGN_UP_CSRF)];
  const place = (ctx: Context) => ({
    action: '/signup',
    csrf: issueCsrfToken(ctx, '', SIGN_UP_CSRF),
    invite: typeof ctx.query.invite === 'string' ? ctx.query.invite : undefined,
    facts: requestFacts(ctx),
  });

  router.get('/', (ctx) => pages.showRequest(ctx, place(ctx)));
  router.post('/', ...formPost, (ctx) => pages.submitRequest(ctx, place(ctx)));
  router.get('/complete', (ctx) => pages.showComplete(ctx));
  router.post('/complete', ...formPost, (ctx) => pages.submitComplete(ctx));
  return router;
}
