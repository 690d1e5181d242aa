import type { Context } from 'koa';

import type { ErrorCode } from '../errors.ts';
import type { RenderErrorPage } from '../http/index.ts';
import { routedPath } from '../http/index.ts';

// How every abuse limit answers (request budgets and the failed-authentication throttles):
// HTTP 429, Retry-After, the IETF RateLimit fields, in the shape the endpoint speaks. Every
// 429 is written here; the lean repeat-refusal gate keeps its pre-rendered body but sets
// its headers through the same builder, refusalHeaders below.
//
// The OAuth error code is `too_many_requests`. RFC 6749 registers no code for this:
// `temporarily_unavailable` is defined for the authorization endpoint and reads as an
// outage of the server, `slow_down` belongs to the device flow. Clients act on the status
// and Retry-After; the code names the cause for people and logs.

export const RATE_LIMITED_ERROR = 'too_many_requests' satisfies ErrorCode;

/** One budget as it applied to a request (draft-ietf-httpapi-ratelimit-headers). */
export interface AppliedLimit {
  /** The policy name: a tier such as `ip`, `token`, `login`. */
  readonly policy: string;
  readonly quota: number;
  readonly windowSeconds: number;
  readonly remaining: number;
  /** Seconds until the budget refills. */
  readonly resetSeconds: number;
}

const APPLIED = Symbol('portcullis.appliedLimits');

/** Records a budget a request spent from and rewrites the RateLimit fields for all of them. */
export function noteAppliedLimit(ctx: Context, limit: AppliedLimit): void {
  const state = ctx.state as { [APPLIED]?: AppliedLimit[] };
  const applied = (state[APPLIED] ??= []);
  applied.push(limit);
  ctx.set('RateLimit-Policy', applied.map((l) => `"${l.policy}";q=${l.quota};w=${l.windowSeconds}`).join(', '));
  // The draft: report the policy closest to its limit.
  let lowest = applied[0]!;
  for (const l of applied) if (l.remaining < lowest.remaining) lowest = l;
  ctx.set('RateLimit', `"${lowest.policy}";r=${lowest.remaining};t=${lowest.resetSeconds}`);
}

/** Endpoints that always answer in OAuth's JSON error shape, whatever the Accept header says. */
export const JSON_ONLY = /^\/(token|api\/|me$|jwks$|\.well-known\/|reg\b|request$)/;

/** "42 seconds", "1 second"; from 90 s on, in minutes ("15 minutes"). */
export function formatWait(seconds: number): string {
  if (seconds < 90) return seconds === 1 ? '1 second' : `${seconds} seconds`;
  return `${Math.ceil(seconds / 60)} minutes`;
}

/** "<message> Try again in N seconds." */
export function withWait(message: string, seconds: number): string {
  return `${message} Try again in ${formatWait(seconds)}.`;
}

export interface RefusalOptions {
  readonly renderPage: RenderErrorPage;
  /** The issuer is https: repeat-refusal pages (answered before the security headers) send HSTS too. */
  readonly hsts?: boolean;
  /** A registered origin may read the refusal cross-origin (else a browser app sees a network error). */
  readonly allowOrigin?: ((origin: string) => boolean | Promise<boolean>) | undefined;
}

/** A budget already spent, as the lean gate remembers it (its RateLimit-Policy entry, ready made). */
export interface SpentPolicy {
  readonly name: string;
  readonly policy: string;
}

/**
 * The headers every 429 carries: Retry-After, no-store, and CORS for a registered origin.
 * The RateLimit fields come from noteAppliedLimit as budgets are spent, or, for a refusal
 * remembered from earlier, from the spent policy given here.
 */
export async function refusalHeaders(ctx: Context, options: RefusalOptions, waitSeconds: number, spent?: SpentPolicy): Promise<void> {
  if (spent) {
    ctx.set('RateLimit-Policy', spent.policy);
    ctx.set('RateLimit', `"${spent.name}";r=0;t=${waitSeconds}`);
  }
  ctx.set('Retry-After', String(waitSeconds));
  ctx.set('Cache-Control', 'no-store');
  ctx.vary('Origin');
  const origin = ctx.get('Origin');
  if (origin && options.allowOrigin && (await options.allowOrigin(origin))) {
    ctx.set('Access-Control-Allow-Origin', origin);
    ctx.set('Access-Control-Expose-Headers', 'Retry-After, RateLimit, RateLimit-Policy');
  }
}

/** Whether a refusal of this request is a page (a browser asking for one) rather than JSON. */
export function wantsPage(ctx: Context): boolean {
  return !JSON_ONLY.test(routedPath(ctx.path)) && ctx.accepts('json', 'html') === 'html';
}

export interface Refusal {
  readonly retryAfterSeconds: number;
  /** What the caller is told; by default the time to wait is appended ("Try again in ..."). */
  readonly message: string | ((wait: string) => string);
}

/** Answers 429 without touching anything downstream: no database, no password hashing. */
export async function sendTooManyRequests(ctx: Context, options: RefusalOptions, refusal: Refusal): Promise<void> {
  const wait = Math.max(1, Math.ceil(refusal.retryAfterSeconds));
  const message = typeof refusal.message === 'function' ? refusal.message(formatWait(wait)) : withWait(refusal.message, wait);
  ctx.status = 429;
  await refusalHeaders(ctx, options, wait);
  if (wantsPage(ctx)) {
    ctx.type = 'html';
    ctx.body = options.renderPage({
      status: 429,
      error: RATE_LIMITED_ERROR,
      message,
      requestId: String(ctx.state.requestId ?? ''),
      languages: (...tags) => ctx.acceptsLanguages(...tags),
    });
  } else {
    ctx.body = { error: RATE_LIMITED_ERROR, error_description: message };
  }
}
