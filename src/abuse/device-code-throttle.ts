import type { Context } from 'koa';

import type { AuthThrottleConfig } from '../config/index.ts';
import type { Metrics } from '../observability/index.ts';
import type { CredentialThrottle } from './credential-throttle.ts';
import { refusalHeaders, type RefusalOptions } from './too-many-requests.ts';

// Guessing of user codes at the device page (RFC 8628 5.1), counted by the credential
// throttle's machinery in its own namespace (`device`), per address: a user code has about
// 34 bits, so nobody guesses one in the ten minutes it lives, but every wrong code is
// counted all the same. Only a wrong code counts (a right one, an empty form, a stale xsrf
// token are given back), and a right one never starts the count over: a guesser holding one
// code of their own gains nothing by typing it in between. Fixed policy, per address (the
// subject is the address too):
//   - 5 wrong codes at once, then a growing wait (1 s, 2 s ... up to a minute), blocked
//     for an hour after 20;
//   - beyond the first 5, at most one wrong code every 30 seconds.

export const DEVICE_CODE_THROTTLE_POLICY: AuthThrottleConfig = Object.freeze({
  freeFailures: 5,
  blockAfter: 20,
  ipFreeFailures: 5,
  ipBlockAfter: 20,
  subjectFreeFailures: 5,
  subjectInterval: 30,
  maxDelay: 60,
  window: 3600,
});

export interface DeviceCodeThrottleDeps {
  readonly throttle: CredentialThrottle;
  readonly refusal: RefusalOptions;
  readonly metrics?: Pick<Metrics, 'rateLimited'> | undefined;
}

/** Typed structurally (interactions/device-code-guard.ts owns the interface; app.ts checks the fit). */
export function createDeviceCodeThrottle(deps: DeviceCodeThrottleDeps) {
  return {
    async reserve(ctx: Context, ip: string) {
      const verdict = await deps.throttle.reserve({ subject: ip, ip });
      if (verdict.allowed) {
        const { reservation } = verdict;
        return { refused: false as const, failed: () => reservation.failed(), released: () => reservation.released() };
      }
      deps.metrics?.rateLimited.inc({ tier: 'device_code' });
      const retryAfterSeconds = Math.max(1, Math.ceil(verdict.retryAfterSeconds));
      ctx.status = 429;
      await refusalHeaders(ctx, deps.refusal, retryAfterSeconds);
      return { refused: true as const, retryAfterSeconds };
    },
  };
}
