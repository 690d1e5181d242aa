import type { Context } from 'koa';
import { z } from 'zod';

import type { EmailChanges } from '../accounts/index.ts';
import { requestFacts, type AuditSink } from '../audit/index.ts';
import { CSRF_FIELD, issueCsrfToken } from '../interactions/csrf.ts';
import { languageModel, pageLocale, sendPage, type RenderPage } from '../interactions/render-page.ts';
import { emailChangedMessage, type Mailer } from '../mail/index.ts';
import { ACCOUNT_CSRF } from './account-page.ts';
import type { PageSession } from './page-session.ts';

// The link mailed to a new address (account-page.ts asked for it, with the password).
// Opening it shows what will change and a button; only the POST makes the change, so a mail
// scanner that fetches links changes nothing. The link works only signed in to the page as
// the account that asked for it (a sign-in first comes back here): otherwise whoever asked
// for someone's new address from another account could have them confirm it there, the
// two mails being alike. After the change the old address is told, and both events are
// audited (accounts/email-changes.ts has the rules of the change itself).

const confirmForm = z.object({ token: z.string().max(256).catch('') });

export interface EmailChangePages {
  show(ctx: Context, session: PageSession): Promise<void>;
  confirm(ctx: Context, session: PageSession): Promise<void>;
}

export function createEmailChangePages(deps: {
  readonly emailChanges: Pick<EmailChanges, 'peek' | 'confirm'>;
  readonly render: RenderPage;
  readonly audit: AuditSink;
  readonly mailer: Mailer;
  readonly issuer: string;
}): EmailChangePages {
  const issuerHost = new URL(deps.issuer).host;

  function dead(ctx: Context): void {
    // reset-outcome shows `lead` as markup: tm escapes the sentence and its values.
    const { t, tm } = languageModel(pageLocale(ctx));
    sendPage(ctx, deps.render, 'reset-outcome', { title: t('account.email.link-dead.title'), tone: 'warning', lead: tm('account.email.link-dead.lead', {}), action: { url: '/account', label: t('account.email.to-account') } }, 400);
  }

  return {
    async show(ctx, session) {
      const token = typeof ctx.query.token === 'string' ? ctx.query.token : '';
      const change = await deps.emailChanges.peek(token);
      if (change?.accountId !== session.account.id) return dead(ctx);
      const { t } = languageModel(pageLocale(ctx));
      sendPage(ctx, deps.render, 'email-change', {
        title: t('account.email.confirm.title'),
        email: change.email,
        current: session.account.email,
        token,
        csrf: issueCsrfToken(ctx, session.grantId, ACCOUNT_CSRF),
        csrfField: CSRF_FIELD,
      });
    },

    async confirm(ctx, session) {
      const { token } = confirmForm.parse(ctx.request.body ?? {});
      const outcome = await deps.emailChanges.confirm(token, session.account.id);
      if (!outcome.ok) {
        deps.audit.record({ type: 'user.email_change_failed', data: { reason: outcome.reason }, ...requestFacts(ctx) });
        return dead(ctx);
      }
      deps.audit.record({ type: 'user.email_changed', accountId: outcome.accountId, actor: outcome.accountId, data: { from: outcome.previousEmail, to: outcome.email }, ...requestFacts(ctx) });
      deps.mailer.send(emailChangedMessage({ to: outcome.previousEmail, newEmail: outcome.email, issuerHost }));
      const { t, tm } = languageModel(pageLocale(ctx));
      sendPage(ctx, deps.render, 'reset-outcome', {
        title: t('account.email.changed.title'),
        tone: 'success',
        lead: tm('account.email.changed.lead', { email: outcome.email }),
        action: { url: '/account', label: t('account.email.to-account') },
      });
    },
  };
}
