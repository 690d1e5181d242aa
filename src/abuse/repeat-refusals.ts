import type { Context, Middleware } from 'koa';

import type { RateLimitTier } from '../config/index.ts';
import { addressKey } from './address-key.ts';
import type { EndpointTier } from './classify.ts';
import { headerClaim } from './client-credentials.ts';
import { JSON_ONLY, RATE_LIMITED_ERROR, refusalHeaders, withWait, type RefusalOptions } from './too-many-requests.ts';
import { boundedCache } from './bounded-cache.ts';
import { routedPath } from '../http/index.ts';

// Repeat refusals, answered first of all: a key a budget refused stays refused until its
// budget refills, and further requests from it get a lean 429 here, before request ids,
// logs and headers are made (counted in portcullis_rate_limited_total; the first refusal
// of each key and window took the full path, so it is logged and audited). A browser
// asking for a page gets a static one; a registered origin may read the answer.
// Local to this instance: with Redis, another instance refuses through the full path.

interface Refused {
  readonly tier: RateLimitTier;
  readonly policy: string;
  readonly until: number;
  readonly counted: { inc(): void } | undefined;
}

/** The keys a budget refused, until their budgets refill. */
export interface RefusalMemo {
  note(tier: RateLimitTier, key: string, entry: Omit<Refused, 'tier'>): void;
  get(tier: RateLimitTier, key: string): Refused | undefined;
  readonly size: number;
}

export function createRefusalMemo(max = 50_000): RefusalMemo {
  const refused = boundedCache<string, Refused>(max);
  return {
    note(tier, key, entry) {
      refused.set(`${tier}|${key}`, { tier, ...entry }, { ttl: Math.max(1, entry.until - Date.now()) });
    },
    get: (tier, key) => refused.get(`${tier}|${key}`),
    get size() {
      return refused.size;
    },
  };
}

/** The browser hardening of the repeat-refusal page (the page has no script, no inline style). */
const STATIC_PAGE_HEADERS = {
  'Content-Security-Policy': "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

export interface RepeatRefusalDeps {
  readonly refused: RefusalMemo;
  readonly classify: (ctx: Context) => EndpointTier | undefined;
  /** The engine's endpoints where clients authenticate (a client's budget applies there). */
  readonly clientPaths: ReadonlySet<string>;
  readonly refusal: RefusalOptions;
}

export function repeatRefusals(deps: RepeatRefusalDeps): Middleware {
  const { refused, refusal } = deps;
  let refusalPage: string | undefined;

  function find(ctx: Context): Refused | undefined {
    const address = addressKey(ctx.ip) || 'unknown';
    const endpoint = deps.classify(ctx);
    // Only the Authorization header is read here; a client id in a body is checked later.
    const claim = ctx.method === 'POST' && deps.clientPaths.has(routedPath(ctx.path)) ? headerClaim(ctx) : undefined;
    const id = claim?.kind === 'credential' ? claim.clientId : undefined;
    return refused.get('ip', address) ?? (endpoint ? refused.get(endpoint, address) : undefined) ?? (id ? refused.get('client', id) : undefined);
  }

  return async (ctx, next) => {
    if (refused.size === 0) {
      await next();
      return;
    }
    const hit = find(ctx);
    const wait = hit ? Math.ceil((hit.until - Date.now()) / 1000) : 0;
    if (!hit || wait <= 0) {
      await next();
      return;
    }
    hit.counted?.inc();
    ctx.status = 429;
    await refusalHeaders(ctx, refusal, wait, { name: hit.tier, policy: hit.policy });
    if (!JSON_ONLY.test(routedPath(ctx.path)) && ctx.get('Accept').includes('text/html')) {
      // A static page with static headers: no nonce, nothing inline to allow.
      ctx.set(STATIC_PAGE_HEADERS);
      if (refusal.hsts) ctx.set('Strict-Transport-Security', 'max-age=31536000; includeSubDomains');
      ctx.set('Content-Type', 'text/html; charset=utf-8');
      ctx.body = (refusalPage ??= refusal.renderPage({ status: 429, error: RATE_LIMITED_ERROR, message: 'Too many requests from your network. Wait a minute, then try again.', requestId: '' }));
      return;
    }
    ctx.set('Content-Type', 'application/json; charset=utf-8');
    ctx.body = JSON.stringify({ error: RATE_LIMITED_ERROR, error_description: withWait('Too many requests.', wait) });
  };
}
