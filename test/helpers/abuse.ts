// Helpers for the abuse-limit tests: requests "from" many addresses (X-Forwarded-For behind
// a trusted proxy: TRUST_PROXY=true), the login form and database query counts.

import assert from 'node:assert/strict';

import type { Metrics } from '../../src/observability/metrics.ts';
import { authorizationRequest, CookieJar, csrfToken, send } from './browserless-login.ts';

/** Every database round trip the server has made so far (metrics.dbQueryDuration). */
export async function queryCount(metrics: Metrics): Promise<number> {
  const { values } = await metrics.dbQueryDuration.get();
  return values.filter((value) => value.metricName?.endsWith('_count')).reduce((sum, value) => sum + value.value, 0);
}

/** Database round trips so far by SQL command (SELECT, INSERT, ...). */
export async function queriesByCommand(metrics: Metrics): Promise<Record<string, number>> {
  const { values } = await metrics.dbQueryDuration.get();
  const counts: Record<string, number> = {};
  for (const value of values) {
    if (!value.metricName?.endsWith('_count')) continue;
    const command = String(value.labels.command);
    counts[command] = (counts[command] ?? 0) + value.value;
  }
  return counts;
}

export interface LoginForm {
  readonly jar: CookieJar;
  readonly action: URL;
  readonly csrf: string;
}

/** Starts an authorization request from `ip` and follows it to the login form. */
export async function openLoginForm(
  issuer: string,
  client: { clientId: string; redirectUri: string },
  ip: string,
  jar = new CookieJar(),
): Promise<LoginForm> {
  let url = authorizationRequest(issuer, { client_id: client.clientId, redirect_uri: client.redirectUri }).url;
  for (let step = 0; step < 10; step++) {
    const response = await send(jar, url, { headers: { accept: 'text/html', 'x-forwarded-for': ip } });
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      url = new URL(location, url);
      continue;
    }
    const html = await response.text();
    const action = /action="(\/interaction\/[^"]+\/login)"/.exec(html)?.[1];
    if (!action) throw new Error(`no login form (${response.status}): ${html.slice(0, 300)}`);
    return { jar, action: new URL(action, url), csrf: csrfToken(html) };
  }
  throw new Error('too many redirects');
}

/** Posts the login form from `ip`. */
export function postLogin(form: LoginForm, email: string, password: string, ip: string): Promise<Response> {
  return send(form.jar, form.action, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html', 'x-forwarded-for': ip },
    body: new URLSearchParams({ csrf: form.csrf, email, password }).toString(),
  });
}

/** Discards the bodies of responses the test only counted. */
export async function drain(responses: readonly Response[]): Promise<void> {
  for (const response of responses) await response.body?.cancel();
}

/** A distinct address for the n-th simulated client (10.x.y.z). */
export function address(n: number, net = 10): string {
  return `${net}.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

/** A client credentials request from `ip`. */
export function clientCredentials(issuer: string, authorization: string, ip: string, body: Record<string, string> = {}): Promise<Response> {
  return fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip },
    body: new URLSearchParams({ grant_type: 'client_credentials', ...body }),
  });
}

/**
 * The credential throttle's bound on a burst from one address, whatever the machine's load:
 * `free` checks at once, then at most one per second of the burst (the delay after each
 * failure). A loaded machine spreads a burst over seconds, so an exact count would be timing.
 */
export function assertThrottledBurst(statuses: readonly number[], elapsedMs: number, free = 3): number {
  const checked = statuses.filter((status) => status === 401).length;
  const refused = statuses.filter((status) => status === 429).length;
  assert.equal(checked + refused, statuses.length, 'every guess is checked or refused unchecked');
  assert.ok(checked <= free + Math.ceil(elapsedMs / 1000), `${checked} of ${statuses.length} were checked in ${elapsedMs} ms`);
  return checked;
}

/** Runs a burst of requests all at once; the responses and how long the burst took. */
export async function burst(count: number, send: (i: number) => Promise<Response>): Promise<{ responses: Response[]; elapsedMs: number }> {
  const started = Date.now();
  const responses = await Promise.all(Array.from({ length: count }, (_, i) => send(i)));
  return { responses, elapsedMs: Date.now() - started };
}
