import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { Redis } from 'ioredis';

import { assertThrottledBurst, burst, drain, openLoginForm, postLogin } from '../helpers/abuse.ts';
import { freePort } from '../helpers/run-entry.ts';
import { countingHasher, startTestServer, type TestServer } from '../helpers/test-server.ts';

// Redis going away under running instances, and not there when one starts. A redis-server of
// this test's own, on a spare port, stopped and started again within the test (the machine's
// shared Redis is never touched). What must hold:
// - an instance starts without Redis (one line logged) and joins it when it comes, by itself;
// - the password throttle never fails open: a burst of wrong passwords while Redis is away is
//   held exactly as by an instance without Redis (per-instance memory);
// - request budgets count in memory (REDIS_UNAVAILABLE=memory) or refuse with 503 and
//   Retry-After (=closed), at once: no request waits for Redis;
// - one log line when Redis goes away, one when it is back.

const PREFIX = `portcullis-outage-${randomBytes(6).toString('hex')}:`;
const REDIRECT = 'http://localhost:8080/callback';
const ANN = { email: 'ann@example.com', password: 'ann has a long password' };
const GONE = /redis for limits is unavailable/;
const BACK = /redis for limits is reachable again/;

let port: number;
let redisServer: ChildProcess | undefined;
let memory: TestServer;
let closed: TestServer;
let reference: TestServer;
const hashers = { memory: countingHasher(), reference: countingHasher() };
const clients = new Map<TestServer, { clientId: string; redirectUri: string }>();

async function startRedis(): Promise<void> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  redisServer = child;
  const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null });
  probe.on('error', () => {});
  for (let attempt = 0; attempt < 100; attempt++) {
    if (await probe.connect().then(() => true, () => false)) break;
    await sleep(50);
  }
  probe.disconnect();
}

async function stopRedis(): Promise<void> {
  const child = redisServer;
  redisServer = undefined;
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** Waits until the instance's Redis client is connected again (it reconnects on its own, every 2 s at most). */
async function rejoined(server: TestServer): Promise<void> {
  for (let attempt = 0; attempt < 100 && server.redis?.status !== 'ready'; attempt++) await sleep(100);
  assert.equal(server.redis?.status, 'ready', 'the instance reconnected to Redis by itself');
}

const count = (text: string, pattern: RegExp) => text.split('\n').filter((line) => pattern.test(line)).length;

before(async () => {
  port = await freePort();
  const env = {
    TRUST_PROXY: 'true',
    AUTH_THROTTLE_MAX_DELAY: '1',
    RATE_LIMIT_LOGIN: '600/1m',
    RATE_LIMIT_API: '5/1m',
    LOG_LEVEL: 'info',
  };
  const redisEnv = { ...env, REDIS_URL: `redis://127.0.0.1:${port}`, REDIS_KEY_PREFIX: PREFIX };
  // Redis is not running yet: both instances must start anyway.
  // (One after the other: each opens a database of its own.)
  memory = await startTestServer({ ...redisEnv, REDIS_UNAVAILABLE: 'memory' }, { hasher: hashers.memory });
  closed = await startTestServer({ ...redisEnv, REDIS_UNAVAILABLE: 'closed' });
  reference = await startTestServer(env, { hasher: hashers.reference });
  for (const server of [memory, closed, reference]) {
    await server.services.accounts.create({ ...ANN, name: 'Ann' });
    const created = await server.services.clients.create({ type: 'web', name: 'Web', redirectUris: [REDIRECT] });
    clients.set(server, { clientId: created.client.clientId, redirectUri: REDIRECT });
  }
});

after(async () => {
  await Promise.all([memory?.close(), closed?.close(), reference?.close()]);
  await stopRedis();
});

const api = (server: TestServer, ip: string) => fetch(`${server.issuer}/api/me`, { headers: { 'x-forwarded-for': ip } });
const jwks = (server: TestServer, ip: string) => fetch(`${server.issuer}/jwks`, { headers: { 'x-forwarded-for': ip } });

describe('Redis away', () => {
  test('instances start without Redis, logging it once; budgets count in memory or refuse with 503 at once, as configured', async () => {
    assert.equal(count(memory.logs(), GONE), 1, memory.logs());
    assert.equal(count(closed.logs(), GONE), 1);
    assert.match(memory.logs(), /request budgets count in memory/);
    assert.match(closed.logs(), /request budgets refuse with 503/);

    // memory: the budget of 5 per minute holds per instance.
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      const response = await api(memory, '10.60.0.1');
      statuses.push(response.status);
      await response.body?.cancel();
    }
    assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429, 429], 'the budget is enforced from memory, not let through');

    // closed: refused as an outage, at once (no request waits for Redis).
    for (let i = 0; i < 5; i++) {
      const started = Date.now();
      const response = await jwks(closed, '10.60.0.2');
      const tookMs = Date.now() - started;
      assert.equal(response.status, 503);
      assert.ok(Number(response.headers.get('retry-after')) >= 1);
      assert.deepEqual(await response.json(), { error: 'temporarily_unavailable', error_description: 'The service is temporarily unavailable; try again shortly.' });
      assert.ok(tookMs < 1_000, `answered in ${tookMs} ms`);
    }
    const metrics = await (await fetch(`${closed.managementUrl}/metrics`)).text();
    assert.match(metrics, /portcullis_unavailable_responses_total\{dependency="redis"\} [1-9]/);
    // Logins still go on with budgets in memory.
    const form = await openLoginForm(memory.issuer, clients.get(memory)!, '10.60.0.3');
    assert.equal((await postLogin(form, ANN.email, ANN.password, '10.60.0.3')).status, 303);
  });

  test('when Redis comes, every instance joins it by itself and logs it once; budgets are shared again', async () => {
    await startRedis();
    await rejoined(memory);
    await rejoined(closed);
    assert.equal(count(memory.logs(), BACK), 1);
    assert.equal(count(closed.logs(), BACK), 1);
    const response = await jwks(closed, '10.60.0.4');
    assert.equal(response.status, 200, 'closed budgets serve again');
    await response.body?.cancel();
    const redis = new Redis({ port, host: '127.0.0.1' });
    try {
      const [, keys] = await redis.scan('0', 'MATCH', `${PREFIX}rl:*`, 'COUNT', 1000);
      assert.ok(keys.length > 0, 'budgets are spent in Redis again');
    } finally {
      redis.disconnect();
    }
  });

  test('20 wrong passwords in a burst while Redis is down are throttled as by an instance without Redis; one line when it goes and one when it is back', async () => {
    await stopRedis();
    for (let attempt = 0; attempt < 50 && memory.redis?.status === 'ready'; attempt++) await sleep(50);
    assert.equal(count(memory.logs(), GONE), 2, 'one more line for this outage');

    const attacker = '203.0.113.99';
    const results: Record<string, { checked: number; verifications: number; statuses: number[] }> = {};
    for (const [name, server, hasher] of [
      ['redis down', memory, hashers.memory],
      ['memory only', reference, hashers.reference],
    ] as const) {
      const form = await openLoginForm(server.issuer, clients.get(server)!, attacker);
      const before = hasher.verifications();
      const { responses, elapsedMs } = await burst(20, (i) => postLogin(form, ANN.email, `wrong guess ${i}`, attacker));
      const statuses = responses.map((response) => response.status);
      await drain(responses);
      const checked = assertThrottledBurst(statuses, elapsedMs);
      results[name] = { checked, verifications: hasher.verifications() - before, statuses: statuses.sort() };
      assert.equal(results[name].verifications, checked, 'only the guesses let through reached argon2');
    }
    console.log(`# 20-guess burst: ${JSON.stringify(results)}`);
    assert.ok(results['redis down']!.checked < 20, 'never fails open');
    assert.ok(results['redis down']!.checked <= results['memory only']!.checked + 1, 'held as the memory throttle holds it');
    assert.doesNotMatch(memory.logs(), /fail open|let through/);

    // The account's owner still signs in (her address is trusted from the first test).
    const owner = await openLoginForm(memory.issuer, clients.get(memory)!, '10.60.0.3');
    assert.equal((await postLogin(owner, ANN.email, ANN.password, '10.60.0.3')).status, 303);

    await startRedis();
    await rejoined(memory);
    assert.equal(count(memory.logs(), BACK), 2, 'one line when it is back');
    assert.equal(count(memory.logs(), GONE), 2, 'and still one line per outage');
  });
});
