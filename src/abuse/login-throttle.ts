import type { Context } from 'koa';

import type { Metrics } from '../observability/index.ts';
import type { CredentialThrottle } from './credential-throttle.ts';
import { refusalHeaders, type RefusalOptions } from './too-many-requests.ts';

// The credential throttle as the login form consumes it: a refusal is a 429 with the
// headers every refusal carries, the same reason whether or not the account exists, and
// counted; the form writes the page (the lockout, with the form again). The form owns
// the interface (interactions/login-throttle.ts); this is typed structurally, without
// importing it, because abuse/ sits below the pages (app.ts checks that the two fit).

/** A password attempt, as the login form reports it. */
export interface PasswordAttempt {
  readonly email: string;
  readonly ip: string;
  readonly device?: string | undefined;
}

export interface LoginThrottleDeps {
  readonly throttle: CredentialThrottle;
  readonly refusal: RefusalOptions;
  readonly metrics?: Pick<Metrics, 'rateLimited' | 'loginAttempts'> | undefined;
}

export function createLoginThrottle(deps: LoginThrottleDeps) {
  return {
    async reserve(ctx: Context, { email, ip, device }: PasswordAttempt) {
      const verdict = await deps.throttle.reserve({ subject: email, ip, device });
      if (verdict.allowed) {
        const { reservation } = verdict;
        return {
          failed: () => reservation.failed(),
          succeeded: (trustedDevice: string) => reservation.succeeded({ device: trustedDevice }),
          released: () => reservation.released(),
        };
      }
      deps.metrics?.loginAttempts.inc({ outcome: 'locked' });
      deps.metrics?.rateLimited.inc({ tier: 'login_throttle' });
      const retryAfterSeconds = Math.max(1, Math.ceil(verdict.retryAfterSeconds));
      ctx.status = 429;
      await refusalHeaders(ctx, deps.refusal, retryAfterSeconds);
      const reason: 'slow' | 'device' | 'network' = !verdict.blocked ? 'slow' : verdict.scope === 'device' ? 'device' : 'network';
      return { refused: true as const, retryAfterSeconds, reason };
    },
  };
}
