import type { Context } from 'koa';

import type { AuthThrottleConfig } from '../config/index.ts';
import type { Metrics } from '../observability/index.ts';
import type { CredentialThrottle } from './credential-throttle.ts';
import { refusalHeaders, type RefusalOptions } from './too-many-requests.ts';

// Password reset requests, counted by the credential throttle's machinery (its own
// namespace, `reset`): every request settles as a failure, so each one counts, per account
// (the address typed, normalised) and address, and per address alone. Each sends at most
// one mail, so the policy is stricter than the password one, and fixed: mail is what it
// protects (someone's inbox, and the server's reputation), not a password. The codes mailed
// before an enrolment (interactions/second-factor.ts) are counted in a namespace of their
// own, `mailbox` (a reset request needs no password: sharing one count would let anyone who
// knows an address stop its owner from enrolling), per account as resets are, but with room
// per address: each needs that account's password, and a whole office enrolling behind one
// address on the morning MFA becomes required must not wait.
//   - one account from one address: 3 at once, then a growing wait, blocked after 10;
//   - one account from anywhere: 3 at once, then one every 5 minutes;
//   - one address, across accounts: 10 at once, then a growing wait, blocked after 50;
//   - waits up to 5 minutes; counts and blocks last an hour.

export const RESET_THROTTLE_POLICY: AuthThrottleConfig = Object.freeze({
  freeFailures: 3,
  blockAfter: 10,
  ipFreeFailures: 10,
  ipBlockAfter: 50,
  subjectFreeFailures: 3,
  subjectInterval: 300,
  maxDelay: 300,
  window: 3600,
});

export const MAILBOX_CODE_THROTTLE_POLICY: AuthThrottleConfig = Object.freeze({
  ...RESET_THROTTLE_POLICY,
  ipFreeFailures: 100,
  ipBlockAfter: 1000,
});

export interface ResetThrottleDeps {
  readonly throttle: CredentialThrottle;
  readonly refusal: RefusalOptions;
  readonly metrics?: Pick<Metrics, 'rateLimited'> | undefined;
}

/**
 * One mail to an account, counted (the policy above); refused: how long to wait. The caller
 * answers, and says whether the mail went out: only a mail handed to the queue counts (one
 * the full queue refused gives its place back).
 */
export function createMailThrottle(deps: Pick<ResetThrottleDeps, 'throttle' | 'metrics'> & { readonly tier: string }) {
  return {
    async take({ email, ip }: { readonly email: string; readonly ip: string }) {
      const verdict = await deps.throttle.reserve({ subject: email, ip });
      if (verdict.allowed) {
        const { reservation } = verdict;
        return { allowed: true as const, settle: (sent: boolean) => (sent ? reservation.failed() : reservation.released()) };
      }
      deps.metrics?.rateLimited.inc({ tier: deps.tier });
      return { allowed: false as const, retryAfterSeconds: Math.max(1, Math.ceil(verdict.retryAfterSeconds)) };
    },
  };
}

/** Typed structurally (interactions/reset-throttle.ts owns the interface; app.ts checks the fit). */
export function createResetThrottle(deps: ResetThrottleDeps & { readonly tier?: string }) {
  const mail = createMailThrottle({ ...deps, tier: deps.tier ?? 'password_reset' });
  return {
    async take(ctx: Context, attempt: { readonly email: string; readonly ip: string }) {
      const verdict = await mail.take(attempt);
      if (verdict.allowed) {
        // Every request counts, whether or not it names an account (and so sends a mail).
        await verdict.settle(true);
        return { allowed: true as const };
      }
      ctx.status = 429;
      await refusalHeaders(ctx, deps.refusal, verdict.retryAfterSeconds);
      return verdict;
    },
  };
}
