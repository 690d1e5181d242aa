import type { Context } from 'koa';
import { z } from 'zod';

import type { SecondFactors } from '../accounts/index.ts';
import { requestFacts, type AuditSink } from '../audit/index.ts';
import { CSRF_FIELD, issueCsrfToken, pageLocale, type RenderPage, sendPage, translator } from '../interactions/index.ts';
import { authenticatorRemovedMessage, recoveryCodesRenewedMessage, type Mailer } from '../mail/index.ts';
import { ACCOUNT_CSRF } from './account-page.ts';
import type { CurrentPasswordCheck } from './current-password.ts';
import type { PageSession } from './page-session.ts';

// Managing the second factors a person has, on the account page: removing the authenticator
// app (to replace it: remove, then set up the new one) and new recovery codes. Rules:
// - each needs the current password (counted by the login throttle): the page session
//   itself came from a sign-in that asked for the second factor of anyone who has one, and
//   a stolen page session alone must not strip the account of its factor or read new codes;
// - removing the app takes its recovery codes with it unless a passkey is left (they
//   recover a factor, and there would be none); new codes replace every old one at once,
//   shown once, only for an account that has a factor;
// - both are audited and mailed to the owner.

const passwordForm = z.object({ current: z.string().max(4096).catch('') });

export interface FactorManagement {
  /** POST /account/authenticator/remove */
  removeAuthenticator(ctx: Context, session: PageSession): Promise<void>;
  /** POST /account/recovery-codes: ten new codes, shown once. */
  renewRecoveryCodes(ctx: Context, session: PageSession): Promise<void>;
}

export function createFactorManagement(deps: {
  readonly secondFactors: Pick<SecondFactors, 'removeAuthenticator' | 'renewRecoveryCodes'>;
  readonly checkCurrentPassword: CurrentPasswordCheck;
  readonly mailer: Mailer;
  readonly audit: AuditSink;
  readonly render: RenderPage;
  readonly issuer: string;
  /** The account page with an error in its second-factor section. */
  readonly showPage: (ctx: Context, session: PageSession, error: string, status: number) => Promise<void>;
}): FactorManagement {
  const issuerHost = new URL(deps.issuer).host;
  const facts = (ctx: Context, session: PageSession) => ({ actor: session.account.id, accountId: session.account.id, ...requestFacts(ctx) });
  const backToPage = (ctx: Context, done?: string) => {
    ctx.status = 303;
    ctx.redirect(done ? `/account?done=${done}` : '/account');
  };

  /** The current password checked, or the page answered with why not. */
  async function passwordGiven(ctx: Context, session: PageSession): Promise<boolean> {
    const { current } = passwordForm.parse(ctx.request.body ?? {});
    const refused = await deps.checkCurrentPassword(ctx, session, current);
    if (refused) await deps.showPage(ctx, session, refused.text, refused.status);
    return !refused;
  }

  return {
    async removeAuthenticator(ctx, session) {
      if (!(await passwordGiven(ctx, session))) return;
      if (!(await deps.secondFactors.removeAuthenticator(session.account.id))) return backToPage(ctx); // none (removed meanwhile)
      deps.audit.record({ type: 'mfa.authenticator_removed', ...facts(ctx, session) });
      deps.mailer.send(authenticatorRemovedMessage({ to: session.account.email, issuerHost }));
      backToPage(ctx, 'authenticator-removed');
    },

    async renewRecoveryCodes(ctx, session) {
      if (!(await passwordGiven(ctx, session))) return;
      const codes = await deps.secondFactors.renewRecoveryCodes(session.account.id);
      if (!codes) return backToPage(ctx); // no factor: nothing to recover
      deps.audit.record({ type: 'mfa.recovery_codes_renewed', ...facts(ctx, session), data: { recoveryCodes: codes.length } });
      deps.mailer.send(recoveryCodesRenewedMessage({ to: session.account.email, issuerHost }));
      const t = translator(pageLocale(ctx));
      sendPage(ctx, deps.render, 'account-authenticator', { title: t('mfa.codes.title'), step: 'codes', codes, csrf: issueCsrfToken(ctx, session.grantId, ACCOUNT_CSRF), csrfField: CSRF_FIELD });
    },
  };
}
