import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { address, assertThrottledBurst, burst, drain, openLoginForm, postLogin } from '../helpers/abuse.ts';
import { basicAuth } from '../helpers/token-endpoint.ts';
import { countingHasher, startTestServer, type TestServer } from '../helpers/test-server.ts';

// Concurrent bursts against the credential throttles: every attempt is reserved before the
// password or secret is checked, atomically, so a burst gets no more checks than the policy
// lets through one at a time. Default throttle settings (3 free failures per account and
// address, 20 per account across addresses), behind a trusted proxy.

const REDIRECT = 'http://localhost:8080/callback';
const API = 'https://api.example.test';
const PASSWORD = 'a long and correct password';

let server: TestServer;
const hasher = countingHasher();
let web: { clientId: string; redirectUri: string };
let service: { id: string; secret: string };

before(async () => {
  server = await startTestServer({ TRUST_PROXY: 'true', LOG_LEVEL: 'warn' }, { hasher });
  for (const name of ['ann', 'bob']) await server.services.accounts.create({ email: `${name}@example.com`, name, password: PASSWORD });
  web = { clientId: (await server.services.clients.create({ type: 'web', name: 'Web', redirectUris: [REDIRECT] })).client.clientId, redirectUri: REDIRECT };
  await server.services.resources.create({ indicator: API, name: 'API', scopes: [{ name: 'read' }], accessTokenFormat: 'jwt' });
  const created = await server.services.clients.create({ type: 'service', name: 'Batch', resources: [API], scopes: ['read'] });
  service = { id: created.client.clientId, secret: created.clientSecret! };
});

after(async () => {
  await server?.close();
});

/** How many responses had each status. */
function tally(responses: Response[]): Map<number, number> {
  const statuses = new Map<number, number>();
  for (const response of responses) statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
  return statuses;
}

const post = (path: string, ip: string, body: Record<string, string>, authorization?: string) =>
  fetch(`${server.issuer}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip, ...(authorization && { authorization }) },
    body: new URLSearchParams(body),
  });

describe('concurrent password guesses', () => {
  test('a burst of 60 wrong passwords from one address reaches argon2 at most 3 times', async () => {
    const attacker = '203.0.113.10';
    const form = await openLoginForm(server.issuer, web, attacker);
    const before = hasher.verifications();
    const { responses, elapsedMs } = await burst(60, (i) => postLogin(form, 'ann@example.com', `guess ${i}`, attacker));
    await drain(responses);
    const checked = assertThrottledBurst(responses.map((response) => response.status), elapsedMs);
    assert.equal(hasher.verifications() - before, checked, 'every 401 is one password check, and nothing else reached argon2');
  });

  test('a burst of 300 wrong passwords at one account from 300 addresses reaches argon2 at most 20 times', async () => {
    const form = await openLoginForm(server.issuer, web, address(1, 11));
    const before = hasher.verifications();
    const responses = await Promise.all(Array.from({ length: 300 }, (_, i) => postLogin(form, 'bob@example.com', `guess ${i}`, address(100 + i, 11))));
    const statuses = tally(responses);
    await drain(responses);
    assert.ok(hasher.verifications() - before <= 20, `${hasher.verifications() - before} of 300 reached argon2`);
    assert.equal((statuses.get(401) ?? 0) + (statuses.get(429) ?? 0), 300);
  });
});

describe('concurrent client-secret guesses', () => {
  test('a burst of 60 wrong secrets (HTTP Basic) from one address reaches the secret check at most 3 times', async () => {
    const attacker = '203.0.113.20';
    const { responses, elapsedMs } = await burst(60, (i) => post('/token', attacker, { grant_type: 'client_credentials' }, basicAuth(service.id, `guess-${i}`)));
    await drain(responses);
    assertThrottledBurst(responses.map((response) => response.status), elapsedMs);
  });

  test('a burst of 60 wrong secrets in the form body is throttled by the client id it claims', async () => {
    const attacker = '203.0.113.21';
    const { responses, elapsedMs } = await burst(60, (i) =>
      post('/token', attacker, { grant_type: 'client_credentials', client_id: service.id, client_secret: `guess-${i}` }),
    );
    await drain(responses);
    assertThrottledBurst(responses.map((response) => response.status), elapsedMs);
  });

  test('pushed authorization requests (/request) are guarded like the token endpoint', async () => {
    const attacker = '203.0.113.22';
    const par = (secret: string) => post('/request', attacker, { response_type: 'code', redirect_uri: REDIRECT, scope: 'openid' }, basicAuth(service.id, secret));
    const { responses, elapsedMs } = await burst(30, (i) => par(`guess-${i}`));
    await drain(responses);
    assertThrottledBurst(responses.map((response) => response.status), elapsedMs);
    const refused = await par(service.secret);
    assert.equal(refused.status, 429, 'even the right secret waits, from there');
    assert.equal(((await refused.json()) as { error: string }).error, 'too_many_requests');
  });
});
