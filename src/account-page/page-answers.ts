import type { Context } from 'koa';

import { requestFacts } from '../audit/index.ts';
import { CSRF_FIELD, issueCsrfToken, pageLocale, type RenderPage, sendPage, translator } from '../interactions/index.ts';
import { ACCOUNT_CSRF } from './account-page.ts';
import type { PageSession } from './page-session.ts';

// What the account page's changes answer with, shared by its forms: back to the page
// (303, saying what was done), the recovery codes shown once, and who acted, for audit.

/** A 303 to the page, with `?done=` naming what was done (account-page.ts NOTICES). */
export function backToAccountPage(ctx: Context, done?: string): void {
  ctx.status = 303;
  ctx.redirect(done ? `/account?done=${done}` : '/account');
}

/** The audit facts of a change the signed-in person made on the page. */
export const actedOnPage = (ctx: Context, session: PageSession) => ({ actor: session.account.id, accountId: session.account.id, ...requestFacts(ctx) });

/** The page session's CSRF token, for a form. */
export const pageCsrf = (ctx: Context, session: PageSession) => ({ csrf: issueCsrfToken(ctx, session.grantId, ACCOUNT_CSRF), csrfField: CSRF_FIELD });

/** New recovery codes, shown this once. */
export function sendRecoveryCodes(ctx: Context, render: RenderPage, session: PageSession, codes: readonly string[]): void {
  const t = translator(pageLocale(ctx));
  sendPage(ctx, render, 'account-authenticator', { title: t('mfa.codes.title'), step: 'codes', codes, ...pageCsrf(ctx, session) });
}
