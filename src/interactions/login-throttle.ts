import type { Context } from 'koa';

// What the login form needs of a password-guessing throttle. The form owns this interface
// (as fosite's handlers own their strategy interfaces); abuse/ implements it and app.ts
// hands it in, so the pages know nothing of counts, stores or budgets.

/** One password attempt at the login form. */
export interface LoginAttempt {
  /** The email as typed (the throttle normalises it). */
  readonly email: string;
  /** The client's address (ctx.ip). */
  readonly ip: string;
  /** The id of this browser's signed device cookie, if it has one (device-cookie.ts). */
  readonly device?: string | undefined;
}

/** An attempt the throttle let through, held until the password check settles it. */
export interface LoginReservation {
  readonly refused?: undefined;
  /** The password was wrong, the account unknown or disabled: the attempt counts as a failure. */
  failed(): Promise<void>;
  /** The password was right: nothing counts against the owner, and this browser is trusted. */
  succeeded(device: string): Promise<void>;
  /** The password was never checked (the request failed first): the attempt is given back. */
  released(): Promise<void>;
}

/**
 * Why an attempt was refused unchecked, in the words the page uses: `slow` is the short
 * wait after a failure; `device` and `network` a block of this account from this browser
 * or from this address.
 */
export type LockoutReason = 'slow' | 'device' | 'network';

/** An attempt refused before the password was looked at: when to try again, and why. */
export interface LoginRefusal {
  readonly refused: true;
  readonly retryAfterSeconds: number;
  readonly reason: LockoutReason;
}

export interface LoginThrottle {
  /**
   * Before the password is checked or the database asked. Refused: the 429's status and
   * headers (Retry-After) are set and the refusal returned; the form writes the page.
   * Allowed: the reservation, to settle exactly once.
   */
  reserve(ctx: Context, attempt: LoginAttempt): Promise<LoginReservation | LoginRefusal>;
}

const settled = () => Promise.resolve();

/** No throttle (tests of the pages that do not exercise it). */
export const UNTHROTTLED: LoginThrottle = {
  reserve: () => Promise.resolve({ failed: settled, succeeded: settled, released: settled }),
};
