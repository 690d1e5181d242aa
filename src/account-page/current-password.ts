import type { Context } from 'koa';

import type { AccountService } from '../accounts/index.ts';
import { requestFacts, type AuditSink } from '../audit/index.ts';
import { formatWait, type LoginThrottle, pageLocale, translator } from '../interactions/index.ts';
import type { PageSession } from './page-session.ts';

// The current password, asked again on the account page before a change that a stolen page
// session must not make alone (a new password, a new address, a new authenticator). Each
// try is an attempt of the login throttle for the account, as at a sign-in: the page is no
// password oracle, and a wrong one is audited as a login failure.

/** What the form says when the password was not accepted, and its status. */
export interface PasswordRefusal {
  readonly text: string;
  readonly status: number;
}

export type CurrentPasswordCheck = (ctx: Context, session: PageSession, current: string) => Promise<PasswordRefusal | undefined>;

export function createCurrentPasswordCheck(deps: { readonly accounts: Pick<AccountService, 'authenticate'>; readonly throttle: LoginThrottle; readonly audit: AuditSink }): CurrentPasswordCheck {
  return async (ctx, session, current) => {
    const t = translator(pageLocale(ctx));
    const { account } = session;
    const reservation = await deps.throttle.reserve(ctx, { email: account.email, ip: ctx.ip });
    if (reservation.refused) return { text: t('account.attempts.slow', { wait: formatWait(t, reservation.retryAfterSeconds) }), status: 429 };
    let checked;
    try {
      checked = await deps.accounts.authenticate(account.email, current);
    } catch (error) {
      await reservation.released();
      throw error;
    }
    if (!checked.ok) {
      await reservation.failed();
      deps.audit.record({ type: 'login.failure', accountId: account.id, data: { reason: 'wrong_current_password', via: 'account_page' }, ...requestFacts(ctx) });
      return { text: t('account.password.wrong'), status: 400 };
    }
    await reservation.released();
    return undefined;
  };
}
