import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';

import { address, assertThrottledBurst, burst, clientCredentials, drain, queryCount } from '../helpers/abuse.ts';
import { captureAudit } from '../helpers/capture-audit.ts';
import { basicAuth } from '../helpers/token-endpoint.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// Client-secret guessing at the token endpoints is throttled like password guessing: per
// client and address, per address, and per client across addresses without slowing the
// client's own servers. Default settings, behind a trusted proxy, but for waits of at most
// 1 s and an address blocked after 20 failures (free 15), so blocks are reached in seconds.

const API = 'https://api.example.test';
const SERVICE_HOST = '192.0.2.20';

let server: TestServer;
const clients: Record<string, { id: string; secret: string }> = {};
const audit = captureAudit();

before(async () => {
  server = await startTestServer(
    { TRUST_PROXY: 'true', LOG_LEVEL: 'warn', AUTH_THROTTLE_MAX_DELAY: '1', AUTH_THROTTLE_IP_FREE_FAILURES: '15', AUTH_THROTTLE_IP_BLOCK_AFTER: '20' },
    { audit },
  );
  await server.services.resources.create({ indicator: API, name: 'API', scopes: [{ name: 'read' }], accessTokenFormat: 'jwt' });
  for (const name of ['batch', 'reports', 'other']) {
    const created = await server.services.clients.create({ type: 'service', name, resources: [API], scopes: ['read'] });
    clients[name] = { id: created.client.clientId, secret: created.clientSecret! };
  }
});

after(async () => {
  await server?.close();
});

const right = (name: string) => basicAuth(clients[name]!.id, clients[name]!.secret);
const wrong = (name: string, n: number) => basicAuth(clients[name]!.id, `guess-${n}`);
const grant = { resource: API, scope: 'read' };

/** Sends `authorization(i)` from `ip`, waiting as told, until blocked; returns the 401s it took. */
async function guessUntilBlocked(authorization: (i: number) => string, ip: string): Promise<number> {
  let failures = 0;
  for (let i = 0; i < 60; i++) {
    const response = await clientCredentials(server.issuer, authorization(i), ip, grant);
    await response.body?.cancel();
    const wait = Number(response.headers.get('retry-after') ?? 0);
    if (response.status === 401) failures++;
    else if (wait > 60) return failures;
    else await sleep(wait * 1000 + 50);
  }
  throw new Error('never blocked');
}

describe('client-secret guessing', () => {
  test('200 wrong secrets from 200 addresses do not stop the client from its own servers', async () => {
    assert.equal((await clientCredentials(server.issuer, right('batch'), SERVICE_HOST, grant)).status, 200);

    const statuses = new Map<number, number>();
    for (let i = 0; i < 200; i++) {
      const response = await clientCredentials(server.issuer, wrong('batch', i), address(5000 + i), grant);
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      const body = (await response.json()) as { error: string };
      assert.equal(body.error, response.status === 429 ? 'too_many_requests' : 'invalid_client');
    }
    assert.deepEqual([...statuses.keys()].sort(), [401, 429]);
    assert.ok((statuses.get(401) ?? 0) < 60, `only ${statuses.get(401)} of 200 guesses were checked`);

    const own = await clientCredentials(server.issuer, right('batch'), SERVICE_HOST, grant);
    assert.equal(own.status, 200, 'the client from its own server gets its token');
    const elsewhere = await clientCredentials(server.issuer, right('batch'), '198.51.100.40', grant);
    assert.equal(elsewhere.status, 429, 'a new address waits while the client is under attack...');
    assert.ok(Number(elsewhere.headers.get('retry-after')) <= 60, '...briefly: never a block');
  });

  test('50 quick wrong secrets from one address get 3 free checks and no more than the delays allow; guessing on as told blocks that address for that client, and only for it', async () => {
    const attacker = '203.0.113.90';
    // All at once: the reservations decide, not the order of arrival.
    const { responses, elapsedMs } = await burst(50, (i) => clientCredentials(server.issuer, wrong('reports', i), attacker, grant));
    await drain(responses);
    const checked = assertThrottledBurst(responses.map((response) => response.status), elapsedMs);
    assert.ok(checked >= 3, 'the three free guesses were checked');
    assert.equal(checked + (await guessUntilBlocked((i) => wrong('reports', 100 + i), attacker)), 10, 'the 10th checked failure blocks');
    const refused = await clientCredentials(server.issuer, right('reports'), attacker, grant);
    assert.equal(refused.status, 429, 'even the right secret, from there');
    assert.ok(Number(refused.headers.get('retry-after')) > 800);
    assert.deepEqual(Object.keys((await refused.json()) as object).sort(), ['error', 'error_description']);

    assert.equal((await clientCredentials(server.issuer, right('other'), attacker, grant)).status, 200, 'other clients from that address');
    assert.equal((await clientCredentials(server.issuer, right('reports'), '198.51.100.41', grant)).status, 200, 'the client elsewhere');
    const blocks = audit.events.filter((event) => event.type === 'rate_limit.blocked' && event.data?.tier === 'client_authentication');
    assert.equal(blocks.length, 1);
    assert.equal(blocks[0]!.clientId, clients.reports!.id);
    assert.equal(blocks[0]!.ip, attacker);
  });

  test('one address trying many client ids is blocked for every client', async () => {
    const sprayer = '203.0.113.91';
    let last = 0;
    for (let i = 0; i < 150; i++) {
      const response = await clientCredentials(server.issuer, basicAuth(`made-up-client-${i}`, 'x'), sprayer, grant);
      last = response.status;
      await response.body?.cancel();
    }
    assert.equal(last, 429);
    // Quick retries were refused uncounted; waiting as told, the 20th failure blocks the address.
    await guessUntilBlocked((i) => basicAuth(`made-up-client-${200 + i}`, 'x'), sprayer);
    assert.equal((await clientCredentials(server.issuer, right('other'), sprayer, grant)).status, 429);
    assert.ok(audit.events.some((event) => event.type === 'rate_limit.blocked' && event.data?.scope === 'address' && event.ip === sprayer));
  });

  test('introspection and revocation guard the same way', async () => {
    const attacker = '203.0.113.92';
    for (const path of ['/token/introspection', '/token/revocation']) {
      let last = 0;
      for (let i = 0; i < 12; i++) {
        const response = await fetch(`${server.issuer}${path}`, {
          method: 'POST',
          headers: { authorization: wrong('other', i), 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': attacker },
          body: new URLSearchParams({ token: 'whatever' }),
        });
        last = response.status;
        await response.body?.cancel();
      }
      assert.equal(last, 429, path);
    }
  });

  test('a refused token request costs no database query', async () => {
    const before = await queryCount(server.metrics);
    for (let i = 0; i < 20; i++) assert.equal((await clientCredentials(server.issuer, right('reports'), '203.0.113.90', grant)).status, 429);
    assert.equal(await queryCount(server.metrics), before);
  });
});
