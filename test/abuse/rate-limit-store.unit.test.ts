import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';

import Koa from 'koa';
import ratelimit from 'koa-ratelimit';
import { LRUCache } from 'lru-cache';

import { loadConfig } from '../../src/config/index.ts';
import { addressKey } from '../../src/abuse/address-key.ts';
import { parseBasic, parseFormClaim } from '../../src/abuse/client-credentials.ts';
import { BoundedMap } from '../../src/abuse/limit-backend.ts';

const require = createRequire(import.meta.url);

/** koa-ratelimit's memory driver, as the middleware constructs it per request. */
const MemoryLimiter = require('koa-ratelimit/limiter/memory.js') as new (options: {
  id: string;
  db: Map<string, unknown>;
  max: number;
  duration: number;
}) => { get(): Promise<{ remaining: number; reset: number; total: number }> };

describe('the bounded memory store of request budgets', () => {
  test("koa-ratelimit's memory driver refuses a bare LRUCache (it asserts `instanceof Map`), hence BoundedMap", () => {
    assert.throws(() => new MemoryLimiter({ id: 'x', db: new LRUCache({ max: 10 }) as unknown as Map<string, unknown>, max: 1, duration: 1000 }), /must be Map instance/);
    assert.doesNotThrow(() => new MemoryLimiter({ id: 'x', db: new BoundedMap(10), max: 1, duration: 1000 }));
  });

  test('it never holds more than its bound, and evicts the least recently used key first', async () => {
    const db = new BoundedMap(3);
    const spend = (id: string) => new MemoryLimiter({ id, db, max: 5, duration: 60_000 }).get();
    await spend('a');
    await spend('b');
    await spend('c');
    await spend('a'); // a is now the most recently used
    await spend('d'); // evicts b
    assert.equal(db.size, 3);
    assert.deepEqual([...db.keys()].sort(), ['limit:a', 'limit:c', 'limit:d']);
    for (let i = 0; i < 10_000; i++) await spend(`ip-${i}`);
    assert.equal(db.size, 3, 'a flood of new addresses does not grow memory');
  });

  test('a budget spent through the driver is the same budget on the next request, until its window ends', async () => {
    const db = new BoundedMap(100);
    const spend = () => new MemoryLimiter({ id: 'k', db, max: 2, duration: 200 }).get();
    assert.equal((await spend()).remaining, 2);
    assert.equal((await spend()).remaining, 1);
    assert.equal((await spend()).remaining, 0);
    await new Promise((resolve) => setTimeout(resolve, 250));
    assert.equal((await spend()).remaining, 2, 'a new window starts with the full budget');
  });

  test('entries expire with their window even if never read again', async () => {
    const db = new BoundedMap(100);
    await new MemoryLimiter({ id: 'k', db, max: 2, duration: 50 }).get();
    assert.equal(db.has('limit:k'), true);
    await new Promise((resolve) => setTimeout(resolve, 80));
    assert.equal(db.has('limit:k'), false);
  });

  test('the koa-ratelimit middleware limits with it', async () => {
    const app = new Koa();
    const db = new BoundedMap(10);
    app.use(ratelimit({ driver: 'memory', db, max: 2, duration: 60_000, id: () => 'one' }));
    app.use((ctx) => {
      ctx.body = 'ok';
    });
    const handler = app.callback();
    const server = createServer((req, res) => void handler(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await fetch(`http://127.0.0.1:${port}/`)).status);
    server.closeAllConnections();
    server.close();
    assert.deepEqual(statuses, [200, 200, 429]);
  });
});

describe('who a budget belongs to', () => {
  test('IPv4 addresses are kept as they are; IPv4-mapped IPv6 is the IPv4 address', () => {
    assert.equal(addressKey('203.0.113.7'), '203.0.113.7');
    assert.equal(addressKey('::ffff:203.0.113.7'), '203.0.113.7');
  });

  test('IPv6 addresses share one budget per /64', () => {
    assert.equal(addressKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
    assert.equal(addressKey('2001:0DB8:0001:0002:ffff:ffff:ffff:ffff'), '2001:db8:1:2::/64');
    assert.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(addressKey('::1'), '0:0:0:0::/64');
    assert.notEqual(addressKey('2001:db8:1:3::1'), addressKey('2001:db8:1:2::1'));
  });

  test('the client id of an HTTP Basic header is read as the engine reads it: form-decoded, strict base64, visible ASCII', () => {
    const basic = (value: string) => `Basic ${Buffer.from(value).toString('base64')}`;
    const id = (header: string) => {
      const claim = parseBasic(header);
      return claim.kind === 'credential' ? claim.clientId : undefined;
    };
    assert.equal(id(basic('my-app:secret')), 'my-app');
    assert.equal(id(basic('my%20app:s')), 'my app');
    assert.equal(id(basic('my+app:s')), 'my app', '+ is a space');
    assert.equal(id(basic(':secret')), undefined);
    assert.equal(id(basic('no-colon')), undefined);
    assert.equal(id(basic('%E0%A4%A:x')), undefined, 'malformed percent-encoding');
    assert.equal(id(basic('my-app:%zz')), undefined, 'a malformed secret: the engine refuses the header before checking it');
    assert.equal(id(basic('my-app:')), undefined, 'an empty secret');
    assert.equal(id(basic('my-app:s\u00e9cret')), undefined, 'a secret outside visible ASCII');
    assert.equal(id(basic('my%09app:s')), undefined, 'an id outside visible ASCII');
    assert.equal(id(`${basic('my-app:secret')}=`), undefined, 'wrong padding');
    assert.equal(id('Basic a'), undefined, 'not base64');
    assert.equal(id(`Basic  ${Buffer.from('a:b').toString('base64')}`), undefined, 'two spaces');
    assert.equal(id(`basic ${Buffer.from('a:b').toString('base64')}`), 'a', 'the scheme is case-insensitive');
    assert.equal(id(basic(`${'a'.repeat(300)}:x`)), 'a'.repeat(300), 'no length of its own: the id is hashed before use');
    assert.equal(id('Bearer abc'), undefined);
    assert.equal(id(''), undefined);
  });

  test('a client id in the form body counts only with a credential beside it', () => {
    assert.deepEqual(parseFormClaim({ client_id: 'app', client_secret: 's' }), { kind: 'credential', clientId: 'app', method: 'post' });
    assert.deepEqual(parseFormClaim({ client_id: 'app' }), { kind: 'none' }, 'a public client names itself');
    assert.deepEqual(parseFormClaim({ client_secret: 's' }), { kind: 'malformed' });
    assert.deepEqual(parseFormClaim({ client_id: ['a', 'b'], client_secret: 's' }), { kind: 'malformed' }, 'sent twice');
    const assertion = `${Buffer.from('{"alg":"ES256"}').toString('base64url')}.${Buffer.from('{"sub":"app"}').toString('base64url')}.sig`;
    const type = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
    assert.deepEqual(parseFormClaim({ client_assertion: assertion, client_assertion_type: type }), { kind: 'credential', clientId: 'app', method: 'jwt' });
    assert.deepEqual(parseFormClaim({ client_assertion: assertion, client_assertion_type: type, client_id: 'other' }), { kind: 'malformed' });
    assert.deepEqual(parseFormClaim({ client_assertion: assertion }), { kind: 'malformed' }, 'no assertion type');
    assert.deepEqual(parseFormClaim({ client_assertion: 'not a jwt', client_assertion_type: type }), { kind: 'malformed' });
  });
});

describe('a budget that ran out, in memory', () => {
  test('outlives a flood of fresh keys, until its window ends', async () => {
    const db = new BoundedMap(100, 10);
    const spend = (id: string, duration = 60_000) => new MemoryLimiter({ id, db, max: 2, duration }).get();
    for (let i = 0; i < 3; i++) await spend('refused');
    db.protect('limit:refused');
    for (let i = 0; i < 10_000; i++) await spend(`ip-${i}`);
    assert.equal((await spend('refused')).remaining, 0, 'still out of budget');
    assert.ok(db.size <= 110);
    await spend('short', 50);
    await spend('short', 50);
    db.protect('limit:short');
    await new Promise((resolve) => setTimeout(resolve, 80));
    assert.equal((await spend('short', 50)).remaining, 2, 'a new window starts with the full budget');
  });
});

describe('request budgets in the config', () => {
  test('every tier has a documented default', () => {
    const { rateLimits } = loadConfig({});
    assert.deepEqual(rateLimits.tiers, {
      ip: { max: 1200, windowSeconds: 60 },
      client: { max: 3000, windowSeconds: 60 },
      account: { max: 300, windowSeconds: 60 },
      login: { max: 60, windowSeconds: 60 },
      token: { max: 600, windowSeconds: 60 },
      introspection: { max: 1200, windowSeconds: 60 },
      revocation: { max: 600, windowSeconds: 60 },
      api: { max: 600, windowSeconds: 60 },
      registration: { max: 20, windowSeconds: 3600 },
    });
    assert.equal(rateLimits.memoryKeys, 100_000);
    assert.equal(rateLimits.memoryBlocks, 100_000);
  });

  test('budgets are <max>/<window> in seconds, minutes or hours, or off', () => {
    const { tiers } = loadConfig({ RATE_LIMIT_IP: '30/10s', RATE_LIMIT_TOKEN: '5000/h', RATE_LIMIT_API: 'off', RATE_LIMIT_LOGIN: '10/2m' }).rateLimits;
    assert.deepEqual(tiers.ip, { max: 30, windowSeconds: 10 });
    assert.deepEqual(tiers.token, { max: 5000, windowSeconds: 3600 });
    assert.deepEqual(tiers.login, { max: 10, windowSeconds: 120 });
    assert.equal(tiers.api, undefined);
  });

  test('a malformed or zero budget stops the start with the variable named', () => {
    for (const value of ['1200', '0/1m', '10/0s', 'lots/1m', '10/1d', '-1/1m']) {
      assert.throws(() => loadConfig({ RATE_LIMIT_IP: value }), /RATE_LIMIT_IP/, value);
    }
  });

  test('throttle thresholds must block after more failures than they let through freely', () => {
    assert.throws(() => loadConfig({ AUTH_THROTTLE_FREE_FAILURES: '10', AUTH_THROTTLE_BLOCK_AFTER: '5' }), /AUTH_THROTTLE/);
  });
});

describe('HTTPS posture in the config', () => {
  const production = { NODE_ENV: 'production', MASTER_SECRET: 'x'.repeat(40) };

  test('production refuses an http issuer, except on localhost', () => {
    assert.throws(() => loadConfig({ ...production, ISSUER: 'http://id.example.com' }), /ISSUER: must be https/);
    assert.equal(loadConfig({ ...production, ISSUER: 'http://localhost:3000' }).issuer, 'http://localhost:3000');
    assert.equal(loadConfig({ ...production, ISSUER: 'http://127.0.0.1:3000' }).issuer, 'http://127.0.0.1:3000');
  });

  test('TLS needs both files and an https issuer; without ISSUER the default becomes https', () => {
    assert.throws(() => loadConfig({ TLS_CERT_FILE: '/c.pem' }), /TLS_CERT_FILE, TLS_KEY_FILE: set both/);
    assert.throws(() => loadConfig({ TLS_CERT_FILE: '/c.pem', TLS_KEY_FILE: '/k.pem', ISSUER: 'http://localhost:3000' }), /must be https when TLS/);
    const config = loadConfig({ TLS_CERT_FILE: '/c.pem', TLS_KEY_FILE: '/k.pem', PORT: '8443' });
    assert.equal(config.issuer, 'https://localhost:8443');
    assert.deepEqual(config.tls, { certFile: '/c.pem', keyFile: '/k.pem' });
  });

  test('proxy trust reads one hop of X-Forwarded-For by default', () => {
    assert.equal(loadConfig({}).trustProxyHops, 1);
    assert.equal(loadConfig({ TRUST_PROXY_HOPS: '2' }).trustProxyHops, 2);
    assert.throws(() => loadConfig({ TRUST_PROXY_HOPS: '0' }), /TRUST_PROXY_HOPS/);
  });

  test('REDIS_URL must be a redis URL', () => {
    assert.throws(() => loadConfig({ REDIS_URL: 'http://x' }), /REDIS_URL/);
    assert.deepEqual(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' }).redis, { url: 'redis://127.0.0.1:6379', keyPrefix: 'portcullis:', whenUnavailable: 'memory' });
  });
});
