import type { Context } from 'koa';

// What the password reset form needs of a throttle (the form owns the interface, as the
// login form owns login-throttle.ts; abuse/ implements it). Every request counts, whether
// or not the address names an account, so a refusal tells nothing about who has one.

export type ResetThrottleVerdict = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterSeconds: number };

export interface ResetThrottle {
  /**
   * Counts one reset request for the address typed, from the client's address. Refused: the
   * 429's status and headers (Retry-After) are set; the form writes the page.
   */
  take(ctx: Context, attempt: { readonly email: string; readonly ip: string }): Promise<ResetThrottleVerdict>;
}

/** No throttle (tests of the pages that do not exercise it). */
export const UNTHROTTLED_RESETS: ResetThrottle = { take: () => Promise.resolve({ allowed: true }) };
