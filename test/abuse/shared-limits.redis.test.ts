import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';

import { Redis } from 'ioredis';

import { connectLimitRedis, createLimitRedis } from '../../src/abuse/index.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { address, drain, clientCredentials, openLoginForm, postLogin } from '../helpers/abuse.ts';
import { captureAudit } from '../helpers/capture-audit.ts';
import { basicAuth } from '../helpers/token-endpoint.ts';
import { countingHasher, startTestServer, type TestServer } from '../helpers/test-server.ts';

// Two instances, one Redis (REDIS_URL, 127.0.0.1:6379 by default; TEST_REDIS_URL to
// change): every budget and every failed-authentication count is shared, so an attacker
// gains nothing by spreading requests across instances. Each run uses its own key prefix
// and deletes its keys afterwards. Run with `npm run test:redis`.

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `portcullis-test-${randomBytes(6).toString('hex')}:`;
const REDIRECT = 'http://localhost:8080/callback';
const ANN = { email: 'ann@example.com', password: 'ann has a long password' };

let a: TestServer;
let b: TestServer;
const audit = captureAudit();
const hashers = [countingHasher(), countingHasher()] as const;
const verifications = () => hashers[0].verifications() + hashers[1].verifications();
let webOnA: { clientId: string; redirectUri: string };
let webOnB: { clientId: string; redirectUri: string };
let service: { id: string; secret: string };

before(async () => {
  const env = {
    REDIS_URL,
    REDIS_KEY_PREFIX: PREFIX,
    TRUST_PROXY: 'true',
    RATE_LIMIT_API: '10/1m',
    // Waits of at most 1 s, so a block is reached in seconds.
    AUTH_THROTTLE_MAX_DELAY: '1',
    LOG_LEVEL: 'warn',
  };
  // Two instances as two deployments would run them: each its own process state, one Redis.
  // (Each test server has its own database; the limits under test live in Redis only.)
  [a, b] = await Promise.all([startTestServer(env, { audit, hasher: hashers[0] }), startTestServer(env, { audit, hasher: hashers[1] })]);
  for (const server of [a, b]) {
    await server.services.accounts.create({ ...ANN, name: 'Ann' });
    await server.services.accounts.create({ email: 'cy@example.com', name: 'Cy', password: ANN.password });
    await server.services.accounts.create({ email: 'dee@example.com', name: 'Dee', password: ANN.password });
  }
  webOnA = { clientId: (await a.services.clients.create({ type: 'web', name: 'Web', redirectUris: [REDIRECT] })).client.clientId, redirectUri: REDIRECT };
  webOnB = { clientId: (await b.services.clients.create({ type: 'web', name: 'Web', redirectUris: [REDIRECT] })).client.clientId, redirectUri: REDIRECT };
  // One client id on both instances (its secret differs; the throttle counts by id).
  const created = await a.services.clients.create({ clientId: 'shared-batch', type: 'service', name: 'Batch' });
  service = { id: created.client.clientId, secret: created.clientSecret! };
  await b.services.clients.create({ clientId: 'shared-batch', type: 'service', name: 'Batch' });
});

after(async () => {
  await Promise.all([a?.close(), b?.close()]);
  const redis = new Redis(REDIS_URL);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 1000);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  await redis.quit();
});

const api = (server: TestServer, ip: string) => fetch(`${server.issuer}/api/me`, { headers: { 'x-forwarded-for': ip } });
const jwks = (server: TestServer, ip: string) => fetch(`${server.issuer}/jwks`, { headers: { 'x-forwarded-for': ip } });

describe('two instances sharing one Redis', () => {
  test('one address has one budget across both instances', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const response = await api(i % 2 === 0 ? a : b, '10.50.0.1');
      statuses.push(response.status);
      await response.body?.cancel();
    }
    assert.deepEqual(statuses, [...Array<number>(10).fill(401), 429, 429], 'ten unauthenticated calls, then the shared budget is spent');
    const refused = await api(a, '10.50.0.1');
    assert.match(refused.headers.get('ratelimit') ?? '', /^"api";r=0;t=\d+$/);
    assert.ok(Number(refused.headers.get('retry-after')) >= 1);
    // Another address is untouched on either instance.
    assert.equal((await api(b, '10.50.0.2')).status, 401);
  });

  test('password guesses spread over both instances block the address for the account on both', async () => {
    const attacker = '203.0.113.70';
    const onA = await openLoginForm(a.issuer, webOnA, attacker);
    const onB = await openLoginForm(b.issuer, webOnB, attacker);
    // Waiting as told, alternating instances: the 10th checked failure, wherever, blocks.
    let failures = 0;
    for (let i = 0; i < 60; i++) {
      const response = await postLogin(i % 2 === 0 ? onA : onB, ANN.email, `guess ${i}`, attacker);
      await response.body?.cancel();
      const wait = Number(response.headers.get('retry-after') ?? 0);
      if (response.status === 401) failures++;
      else if (wait > 60) break;
      else await sleep(wait * 1000 + 50);
    }
    assert.equal(failures, 10);
    for (const form of [onA, onB]) {
      const response = await postLogin(form, ANN.email, ANN.password, attacker);
      assert.equal(response.status, 429);
      assert.ok(Number(response.headers.get('retry-after')) > 800);
    }
    const elsewhere = await openLoginForm(b.issuer, webOnB, '198.51.100.70');
    assert.equal((await postLogin(elsewhere, ANN.email, ANN.password, '198.51.100.70')).status, 303, 'Ann elsewhere signs in');
    assert.equal(audit.events.filter((event) => event.type === 'login.blocked').length, 1, 'one block, one event, whichever instance saw it');
  });

  test('client-secret guesses on one instance count on the other', async () => {
    const attacker = '203.0.113.71';
    for (let i = 0; i < 12; i++) await (await clientCredentials(a.issuer, basicAuth(service.id, `guess-${i}`), attacker)).body?.cancel();
    const onB = await clientCredentials(b.issuer, basicAuth(service.id, 'anything'), attacker);
    assert.equal(onB.status, 429);
    assert.equal(((await onB.json()) as { error: string }).error, 'too_many_requests');
    assert.equal((await clientCredentials(a.issuer, basicAuth(service.id, service.secret), '198.51.100.71')).status, 200, 'the client elsewhere');
  });

  test('200 guesses from 200 addresses across both instances do not stop the owner', async () => {
    const home = '192.0.2.77';
    const first = await openLoginForm(a.issuer, webOnA, home);
    assert.equal((await postLogin(first, 'bob@example.com', 'x', home)).status, 401, 'Bob has no account: still a normal failure');
    await a.services.accounts.create({ email: 'bob@example.com', name: 'Bob', password: 'bob has a long password' });
    await b.services.accounts.create({ email: 'bob@example.com', name: 'Bob', password: 'bob has a long password' });
    const ok = await openLoginForm(a.issuer, webOnA, home);
    assert.equal((await postLogin(ok, 'bob@example.com', 'bob has a long password', home)).status, 303);
    const attackA = await openLoginForm(a.issuer, webOnA, address(1, 11));
    const attackB = await openLoginForm(b.issuer, webOnB, address(2, 11));
    for (let i = 0; i < 200; i++) await (await postLogin(i % 2 === 0 ? attackA : attackB, 'bob@example.com', `guess ${i}`, address(100 + i, 11))).body?.cancel();
    const again = await openLoginForm(b.issuer, webOnB, home);
    assert.equal((await postLogin(again, 'bob@example.com', 'bob has a long password', home)).status, 303, 'Bob at home, on the other instance');
  });

  test('a burst of 60 concurrent guesses from one address, split over both instances, reaches argon2 at most 3 times', async () => {
    const attacker = '203.0.113.72';
    const onA = await openLoginForm(a.issuer, webOnA, attacker);
    const onB = await openLoginForm(b.issuer, webOnB, attacker);
    const before = verifications();
    const responses = await Promise.all(Array.from({ length: 60 }, (_, i) => postLogin(i % 2 === 0 ? onA : onB, 'cy@example.com', `guess ${i}`, attacker)));
    await drain(responses);
    assert.ok(verifications() - before <= 3, `${verifications() - before} of 60 reached argon2`);
    assert.ok(responses.every((response) => response.status === 401 || response.status === 429));
  });

  test('a burst of 300 concurrent guesses at one account from 300 addresses over both instances reaches argon2 at most 20 times', async () => {
    const onA = await openLoginForm(a.issuer, webOnA, address(1, 14));
    const onB = await openLoginForm(b.issuer, webOnB, address(2, 14));
    const before = verifications();
    const responses = await Promise.all(Array.from({ length: 300 }, (_, i) => postLogin(i % 2 === 0 ? onA : onB, 'dee@example.com', `guess ${i}`, address(100 + i, 14))));
    await drain(responses);
    assert.ok(verifications() - before <= 20, `${verifications() - before} of 300 reached argon2`);
  });

  test('a burst of 60 concurrent client-secret guesses over both instances reaches the secret check at most 3 times', async () => {
    const attacker = '203.0.113.73';
    const responses = await Promise.all(Array.from({ length: 60 }, (_, i) => clientCredentials(i % 2 === 0 ? a.issuer : b.issuer, basicAuth(service.id, `burst-${i}`), attacker)));
    const checked = responses.filter((response) => response.status === 401).length;
    await drain(responses);
    assert.ok(checked <= 3, `${checked} of 60 reached the secret check`);
  });

  test('when Redis goes away, budgets and logins go on from memory: requests are served, not refused, not 5xx (redis-outage.redis.test.ts has the rest)', async () => {
    assert.ok(a.redis);
    a.redis.disconnect();
    for (let i = 0; i < 15; i++) {
      const response = await jwks(a, '10.50.0.9');
      assert.equal(response.status, 200);
      assert.ok(response.headers.get('ratelimit'), 'the budget was spent in memory');
      await response.body?.cancel();
    }
    const form = await openLoginForm(a.issuer, webOnA, '10.50.0.10');
    assert.equal((await postLogin(form, ANN.email, ANN.password, '10.50.0.10')).status, 303, 'logins go on');
    assert.match(a.logs(), /redis for limits is unavailable/);
    assert.doesNotMatch(a.logs(), /fail open|let through/);
  });

  test('a REDIS_URL that does not answer does not stop a start: connecting gives up at once and goes on in the background', async () => {
    const logger = createLogger({ level: 'silent' });
    const dead = createLimitRedis('redis://127.0.0.1:1', logger);
    await connectLimitRedis(dead);
    assert.notEqual(dead.status, 'ready');
    assert.notEqual(dead.status, 'end', 'still trying');
    dead.disconnect();
  });
});
