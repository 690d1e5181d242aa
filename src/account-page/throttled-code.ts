import type { Context } from 'koa';

import { formatWait, type LoginThrottle, pageLocale, translator } from '../interactions/index.ts';
import type { PageSession } from './page-session.ts';

// A code typed on the account page (one mailed to the account, one of a new authenticator
// app) is an attempt of the login throttle for the account, as a password is: wrong ones
// count, a right one gives the attempt back, and over the count the step's page says when.

/** Undefined when the throttle refused (the page was answered); else whether the code was right. */
export type ThrottledCode = (
  ctx: Context,
  session: PageSession,
  check: () => Promise<boolean>,
  refusedPage: (error: string, status: number) => Promise<void> | void,
) => Promise<boolean | undefined>;

export function createThrottledCode(throttle: LoginThrottle): ThrottledCode {
  return async (ctx, session, check, refusedPage) => {
    const reservation = await throttle.reserve(ctx, { email: session.account.email, ip: ctx.ip });
    if (reservation.refused) {
      const t = translator(pageLocale(ctx));
      await refusedPage(t('account.attempts.slow', { wait: formatWait(t, reservation.retryAfterSeconds) }), 429);
      return undefined;
    }
    let right: boolean;
    try {
      right = await check();
    } catch (error) {
      await reservation.released();
      throw error;
    }
    await (right ? reservation.released() : reservation.failed());
    return right;
  };
}
