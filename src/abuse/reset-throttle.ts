import type { Context } from 'koa';

import type { AuthThrottleConfig } from '../config/index.ts';
import type { Metrics } from '../observability/index.ts';
import type { CredentialThrottle } from './credential-throttle.ts';
import { refusalHeaders, type RefusalOptions } from './too-many-requests.ts';

// Password reset requests, counted by the credential throttle's machinery (its own
// namespace, `reset`): every request settles as a failure, so each one counts, per account
// (the address typed, normalised) and address, and per address alone. Each sends at most
// one mail, so the policy is stricter than the password one, and fixed: mail is what it
// protects (someone's inbox, and the server's reputation), not a password.
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

export interface ResetThrottleDeps {
  readonly throttle: CredentialThrottle;
  readonly refusal: RefusalOptions;
  readonly metrics?: Pick<Metrics, 'rateLimited'> | undefined;
}

/** Typed structurally (interactions/reset-throttle.ts owns the interface; app.ts checks the fit). */
export function createResetThrottle(deps: ResetThrottleDeps) {
  return {
    async take(ctx: Context, { email, ip }: { readonly email: string; readonly ip: string }) {
      const verdict = await deps.throttle.reserve({ subject: email, ip });
      if (verdict.allowed) {
        await verdict.reservation.failed();
        return { allowed: true as const };
      }
      deps.metrics?.rateLimited.inc({ tier: 'password_reset' });
      const retryAfterSeconds = Math.max(1, Math.ceil(verdict.retryAfterSeconds));
      ctx.status = 429;
      await refusalHeaders(ctx, deps.refusal, retryAfterSeconds);
      return { allowed: false as const, retryAfterSeconds };
    },
  };
}
