import type { Context } from 'koa';

import { CSRF_FIELD, issueCsrfToken, pageLocale, sendPage, translator, type RenderPage } from '../interactions/index.ts';
import { ACCOUNT_CSRF } from './account-page.ts';
import type { PageSession } from './page-session.ts';

// The page that asks for a code mailed to the account (before setting up an authenticator,
// before changing the address): one form, its lead saying what the code is for.

export function sendMailedCodePage(
  ctx: Context,
  render: RenderPage,
  session: PageSession,
  page: { readonly lead: string; readonly action: string; readonly error?: string | undefined },
  status = 200,
): void {
  const t = translator(pageLocale(ctx));
  sendPage(
    ctx,
    render,
    'account-code',
    {
      title: t('mfa.mailbox.heading'),
      // Markup made by `tm` (escaped, its values emphasised).
      lead: page.lead,
      action: page.action,
      label: t('mfa.mailbox.code'),
      error: page.error,
      csrf: issueCsrfToken(ctx, session.grantId, ACCOUNT_CSRF),
      csrfField: CSRF_FIELD,
    },
    status,
  );
}
