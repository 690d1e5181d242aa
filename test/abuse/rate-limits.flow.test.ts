import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { queryCount } from '../helpers/abuse.ts';
import { captureAudit } from '../helpers/capture-audit.ts';
import { basicAuth } from '../helpers/token-endpoint.ts';
import { authorizationRequest, runBrowser } from '../helpers/browserless-login.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// Request budgets, made small here so a test can exhaust them; every test speaks from its
// own addresses (X-Forwarded-For behind a trusted proxy), so budgets do not mix.

const REDIRECT = 'http://localhost:8080/callback';
const LIMITS = {
  RATE_LIMIT_IP: '40/1m',
  RATE_LIMIT_TOKEN: '8/1m',
  RATE_LIMIT_LOGIN: '5/1m',
  RATE_LIMIT_CLIENT: '6/1m',
  RATE_LIMIT_ACCOUNT: '3/1m',
};

let server: TestServer;
let web: { id: string; secret: string };
let app: { id: string; secret: string };
const audit = captureAudit();
const ANN = { email: 'ann@example.com', password: 'ann has a long password' };

before(async () => {
  server = await startTestServer({ TRUST_PROXY: 'true', LOG_LEVEL: 'warn', ...LIMITS }, { audit });
  await server.services.accounts.create({ ...ANN, name: 'Ann' });
  const created = await server.services.clients.create({
    type: 'web',
    name: 'Web',
    redirectUris: [REDIRECT],
    resources: [`${server.issuer}/api`],
    scopes: ['openid', 'account:read'],
  });
  web = { id: created.client.clientId, secret: created.clientSecret! };
  // The account API test uses its own client: the one above runs out of its budget.
  const second = await server.services.clients.create({ type: 'web', name: 'App', redirectUris: [REDIRECT], resources: [`${server.issuer}/api`], scopes: ['openid', 'account:read'] });
  app = { id: second.client.clientId, secret: second.clientSecret! };
});

after(async () => {
  await server?.close();
});

function from(ip: string, init: RequestInit = {}): RequestInit {
  return { ...init, headers: { ...(init.headers as Record<string, string>), 'x-forwarded-for': ip } };
}

const tokenRequest = (ip: string, authorization?: string) =>
  fetch(
    `${server.issuer}/token`,
    from(ip, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(authorization && { authorization }) },
      body: 'grant_type=client_credentials',
    }),
  );

describe('request budgets', () => {
  test('every response names the budgets it spent from (RateLimit-Policy) and the closest one (RateLimit)', async () => {
    const discovery = await fetch(`${server.issuer}/.well-known/openid-configuration`, from('10.1.0.1'));
    assert.equal(discovery.headers.get('ratelimit-policy'), '"ip";q=40;w=60');
    assert.equal(discovery.headers.get('ratelimit'), '"ip";r=39;t=60');
    const token = await tokenRequest('10.1.0.2');
    assert.equal(token.headers.get('ratelimit-policy'), '"ip";q=40;w=60, "token";q=8;w=60');
    assert.equal(token.headers.get('ratelimit'), '"token";r=7;t=60');
    assert.equal(token.headers.get('x-portcullis-rl-remaining'), null, 'no private header leaks');
  });

  test('an address over the token budget gets 429 with Retry-After and RateLimit, as OAuth JSON', async () => {
    for (let i = 0; i < 8; i++) assert.equal((await tokenRequest('10.1.0.3')).status, 400, 'no client authentication: invalid_request');
    for (let i = 0; i < 3; i++) {
      const refused = await tokenRequest('10.1.0.3');
      assert.equal(refused.status, 429);
      assert.match(refused.headers.get('content-type') ?? '', /application\/json/);
      const retryAfter = Number(refused.headers.get('retry-after'));
      assert.ok(retryAfter >= 1 && retryAfter <= 60);
      assert.equal(refused.headers.get('ratelimit'), `"token";r=0;t=${retryAfter}`);
      assert.equal(refused.headers.get('cache-control'), 'no-store');
      const body = (await refused.json()) as Record<string, string>;
      assert.equal(body.error, 'too_many_requests');
      assert.match(body.error_description!, /Try again in \d+ seconds?\./);
    }
    // The first refusal went through the whole stack (request id, logs, audit); the repeats
    // were answered before it (abuse/repeat-refusals.ts), with the same fields.
    const first = await tokenRequest('10.1.0.30');
    for (let i = 0; i < 7; i++) await (await tokenRequest('10.1.0.30')).body?.cancel();
    const firstRefusal = await tokenRequest('10.1.0.30');
    const repeat = await tokenRequest('10.1.0.30');
    await first.body?.cancel();
    assert.equal(firstRefusal.status, 429);
    assert.ok(firstRefusal.headers.get('x-request-id'));
    assert.equal(repeat.status, 429);
    assert.equal(repeat.headers.get('x-request-id'), null, 'a repeat refusal skips the stack');
    assert.match(repeat.headers.get('ratelimit') ?? '', /^"token";r=0;t=\d+$/);
    assert.equal(repeat.headers.get('ratelimit-policy'), '"token";q=8;w=60');
    assert.ok(Number(repeat.headers.get('retry-after')) >= 1);
    assert.match(((await repeat.json()) as { error_description: string }).error_description, /Try again in \d+ seconds?\./);
    await firstRefusal.body?.cancel();

    const events = audit.events.filter((event) => event.type === 'rate_limit.blocked' && event.data?.tier === 'token' && event.ip === '10.1.0.3');
    assert.equal(events.length, 1, 'one event when the address ran out, not one per refusal');
    assert.equal(events[0]!.ip, '10.1.0.3');
    const counted = await server.metrics.rateLimited.get();
    assert.equal(counted.values.find((value) => value.labels.tier === 'token')?.value, 5, 'every refusal is counted, repeats too');
  });

  test('a browser over the address budget gets the error page, with the page headers', async () => {
    let response: Response | undefined;
    for (let i = 0; i < 41; i++) {
      response = await fetch(`${server.issuer}/auth?client_id=${web.id}`, from('10.1.0.4', { headers: { accept: 'text/html' }, redirect: 'manual' }));
      if (i < 40) await response.body?.cancel();
    }
    assert.equal(response!.status, 429);
    assert.match(response!.headers.get('content-type') ?? '', /text\/html/);
    assert.ok(response!.headers.get('content-security-policy'), 'security headers ran first');
    assert.ok(response!.headers.get('retry-after'));
    const html = await response!.text();
    assert.match(html, /Too many attempts/);
    assert.match(html, /too_many_requests/);
    // A repeat gets a static page from the repeat-refusal gate, as strictly locked down.
    const repeat = await fetch(`${server.issuer}/auth?client_id=${web.id}`, from('10.1.0.4', { headers: { accept: 'text/html' }, redirect: 'manual' }));
    assert.equal(repeat.status, 429);
    assert.equal(repeat.headers.get('x-request-id'), null);
    assert.match(repeat.headers.get('content-security-policy') ?? '', /default-src 'none'.*frame-ancestors 'none'/);
    assert.equal(repeat.headers.get('x-frame-options'), 'DENY');
    assert.ok(Number(repeat.headers.get('retry-after')) >= 1);
    assert.match(await repeat.text(), /Too many attempts/);
  });

  test('login form posts have their own per-address budget, refused before the form is read', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      const response = await fetch(
        `${server.issuer}/interaction/some-uid/login`,
        from('10.1.0.5', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' }, body: 'email=a&password=b' }),
      );
      statuses.push(response.status);
      await response.body?.cancel();
    }
    assert.deepEqual(statuses.slice(5), [429, 429]);
    assert.ok(statuses.slice(0, 5).every((status) => status !== 429));
  });

  test('wrong and malformed client secrets spend nothing of the client’s budget: only its authenticated requests do', async () => {
    // Someone who knows only the client id: wrong secrets (401) and a malformed Basic header
    // (`id:%zz`, 400 from the engine) are no authentication, so they are counted per address.
    for (let i = 0; i < 6; i++) {
      const response = await tokenRequest(`10.2.0.${i}`, basicAuth(web.id, `wrong-${i}`));
      assert.equal(response.status, 401);
      await response.body?.cancel();
    }
    const malformed = `Basic ${Buffer.from(`${web.id}:%zz`).toString('base64')}`;
    for (let i = 0; i < 8; i++) {
      const response = await tokenRequest(`10.2.2.${i}`, malformed);
      assert.equal(response.status, 400, 'the engine refuses the header before any secret is checked');
      await response.body?.cancel();
    }
    // The client itself (its own grant is not allowed here: 400 after authenticating) spends
    // its budget of 6, and is then refused before the engine.
    for (let i = 0; i < 6; i++) {
      const response = await tokenRequest('10.2.1.1', basicAuth(web.id, web.secret));
      assert.equal(response.status, 400, `authenticated request ${i + 1}`);
      await response.body?.cancel();
    }
    const before = await queryCount(server.metrics);
    const refused = await tokenRequest('10.2.1.2', basicAuth(web.id, web.secret));
    assert.equal(refused.status, 429);
    assert.match(refused.headers.get('ratelimit') ?? '', /^"client";r=0;t=\d+$/);
    assert.equal(((await refused.json()) as { error: string }).error, 'too_many_requests');
    assert.equal(await queryCount(server.metrics), before, 'refused before the engine loaded the client');
    assert.ok(audit.events.some((event) => event.type === 'rate_limit.blocked' && event.data?.tier === 'client' && event.clientId === web.id));
  });

  test('a request refused by a budget costs no database query', async () => {
    const before = await queryCount(server.metrics);
    for (let i = 0; i < 10; i++) assert.equal((await tokenRequest('10.1.0.3', basicAuth(web.id, web.secret))).status, 429);
    assert.equal(await queryCount(server.metrics), before);
  });

  test('X-Forwarded-For entries a client writes left of the proxy’s own buy no fresh budget', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 42; i++) {
      const response = await fetch(`${server.issuer}/jwks`, { headers: { 'x-forwarded-for': `172.16.${i}.1, 10.1.0.6` } });
      statuses.push(response.status);
      await response.body?.cancel();
    }
    assert.deepEqual(statuses.slice(40), [429, 429]);
  });

  test('the account API has a budget per account, whichever address asks', async () => {
    const request = authorizationRequest(server.issuer, { client_id: app.id, redirect_uri: REDIRECT, scope: 'openid account:read', resource: `${server.issuer}/api` });
    const browser = await runBrowser(request.url, { ...ANN });
    const code = browser.url.searchParams.get('code')!;
    const exchanged = await fetch(`${server.issuer}/token`, {
      method: 'POST',
      headers: { authorization: basicAuth(app.id, app.secret), 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': '10.3.0.1' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: request.verifier }),
    });
    assert.equal(exchanged.status, 200);
    const { access_token: token } = (await exchanged.json()) as { access_token: string };

    const me = (ip: string) => fetch(`${server.issuer}/api/me`, from(ip, { headers: { authorization: `Bearer ${token}` } }));
    for (let i = 0; i < 3; i++) assert.equal((await me(`10.3.1.${i}`)).status, 200);
    const refused = await me('10.3.2.1');
    assert.equal(refused.status, 429);
    assert.match(refused.headers.get('ratelimit') ?? '', /^"account";r=0;t=\d+$/);
    assert.equal(((await refused.json()) as { error: string }).error, 'too_many_requests');
    // Without a valid token the account budget is not touched (a forged subject spends nothing).
    assert.equal((await fetch(`${server.issuer}/api/me`, from('10.3.3.1'))).status, 401);
  });
});
