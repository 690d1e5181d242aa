import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';

import { configWarnings, loadConfig } from '../../src/config/index.ts';
import { StartupError } from '../../src/errors.ts';

const GOOD_SECRET = 'a-master-secret-of-at-least-32-characters-0123';

/** Runs loadConfig on `env`, asserts a StartupError, and returns its message. */
function refusal(env: Record<string, string | undefined>): string {
  let caught: unknown;
  try {
    loadConfig(env);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof StartupError, `expected a StartupError, got ${String(caught)}`);
  assert.equal(caught.code, 'startup_failed');
  return caught.message;
}

describe('defaults', () => {
  test('an empty environment gives a development config on port 3000 with issuer http://localhost:3000', () => {
    const config = loadConfig({});
    assert.equal(config.env, 'development');
    assert.equal(config.production, false);
    assert.equal(config.port, 3000);
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.issuer, 'http://localhost:3000');
    assert.equal(config.masterSecret, undefined);
    assert.equal(config.logLevel, 'info');
    assert.equal(config.trustProxy, false);
  });

  test('without DATABASE_URL the database is embedded under ./data, resolved to an absolute path', () => {
    const config = loadConfig({});
    assert.ok(path.isAbsolute(config.dataDir));
    assert.equal(config.dataDir, path.resolve('data'));
    assert.deepEqual(config.database, { kind: 'embedded', dataDir: path.resolve('data') });
  });

  test('a relative DATA_DIR is resolved to an absolute path', () => {
    const config = loadConfig({ DATA_DIR: 'var/portcullis' });
    assert.equal(config.dataDir, path.resolve('var/portcullis'));
  });

  test('the default issuer follows PORT', () => {
    assert.equal(loadConfig({ PORT: '8080' }).issuer, 'http://localhost:8080');
  });

  test('a trailing slash on ISSUER is removed', () => {
    assert.equal(loadConfig({ ISSUER: 'https://id.example.com/' }).issuer, 'https://id.example.com');
    assert.equal(loadConfig({ ISSUER: 'https://example.com/auth/' }).issuer, 'https://example.com/auth');
  });

  test('the config is frozen, including its nested parts: assigning throws in strict mode', () => {
    const config = loadConfig({});
    assert.ok(Object.isFrozen(config));
    assert.throws(() => {
      (config as { port: number }).port = 1;
    }, TypeError);
    assert.throws(() => {
      (config.ttl as { accessToken: number }).accessToken = 1;
    }, TypeError);
    assert.throws(() => {
      (config.database as { kind: string }).kind = 'postgres';
    }, TypeError);
    assert.equal(config.port, 3000);
  });

  test('TRUST_PROXY accepts true/false, 1/0 and yes/no', () => {
    for (const [value, expected] of [
      ['true', true],
      ['1', true],
      ['yes', true],
      ['false', false],
      ['0', false],
      ['no', false],
    ] as const) {
      assert.equal(loadConfig({ TRUST_PROXY: value }).trustProxy, expected, value);
    }
  });
});

describe('database selection', () => {
  test('DATABASE_URL switches to Postgres with the pool size from DATABASE_POOL_MAX', () => {
    const url = 'postgresql://portcullis:pw@db.internal:5432/portcullis';
    const config = loadConfig({ DATABASE_URL: url, DATABASE_POOL_MAX: '25' });
    assert.deepEqual(config.database, { kind: 'postgres', url, poolMax: 25 });
  });

  test('a postgres:// URL is accepted as well as postgresql://', () => {
    const config = loadConfig({ DATABASE_URL: 'postgres://db/portcullis' });
    assert.equal(config.database.kind, 'postgres');
  });
});

describe('invalid values fail at start, naming the variable', () => {
  const cases: [string, Record<string, string>][] = [
    ['PORT', { PORT: 'abc' }],
    ['PORT', { PORT: '70000' }],
    ['PORT', { PORT: '-1' }],
    ['ISSUER', { ISSUER: 'ftp://x' }],
    ['ISSUER', { ISSUER: 'not a url' }],
    ['ISSUER', { ISSUER: 'https://id.example.com/?tenant=a' }],
    ['ISSUER', { ISSUER: 'https://id.example.com/#top' }],
    ['ISSUER', { ISSUER: 'https://op:issuer-password@id.example.com' }],
    ['DATABASE_URL', { DATABASE_URL: 'mysql://root:hunter2@db/portcullis' }],
    ['DATABASE_POOL_MAX', { DATABASE_POOL_MAX: '0' }],
    ['MASTER_SECRET', { MASTER_SECRET: 'too-short-secret' }],
    ['LOG_LEVEL', { LOG_LEVEL: 'loud' }],
    ['TRUST_PROXY', { TRUST_PROXY: 'maybe' }],
    ['NODE_ENV', { NODE_ENV: 'staging' }],
    ['ACCESS_TOKEN_TTL', { ACCESS_TOKEN_TTL: '0' }],
  ];
  for (const [variable, env] of cases) {
    const value = Object.values(env)[0];
    test(`${variable}=${value} throws a StartupError naming ${variable}`, () => {
      const message = refusal(env);
      assert.match(message, new RegExp(`\\b${variable}\\b`));
    });
  }

  test('a too-short MASTER_SECRET is refused without its value appearing in the message', () => {
    const secret = 'SuperSecretValue-29chars-long';
    const message = refusal({ MASTER_SECRET: secret });
    assert.match(message, /MASTER_SECRET/);
    assert.ok(!message.includes(secret), message);
  });

  test("the Kubernetes example's placeholder MASTER_SECRET is refused: it is public", () => {
    const message = refusal({ MASTER_SECRET: 'REPLACE-with-openssl-rand-base64-48-output' });
    assert.match(message, /MASTER_SECRET: still a placeholder; make one with: openssl rand -base64 48/);
  });

  test('a non-Postgres DATABASE_URL is refused without echoing its password', () => {
    const message = refusal({ DATABASE_URL: 'mysql://root:hunter2@db/portcullis' });
    assert.ok(!message.includes('hunter2'), message);
  });

  test('every bad variable is named in one error, not only the first', () => {
    const message = refusal({ PORT: 'abc', LOG_LEVEL: 'loud', TRUST_PROXY: 'maybe' });
    assert.match(message, /PORT/);
    assert.match(message, /LOG_LEVEL/);
    assert.match(message, /TRUST_PROXY/);
  });
});

describe('production', () => {
  const https = { NODE_ENV: 'production', ISSUER: 'https://id.example.com', MASTER_SECRET: GOOD_SECRET };

  test('production with an https issuer and a master secret is accepted', () => {
    const config = loadConfig(https);
    assert.equal(config.production, true);
    assert.equal(config.env, 'production');
    assert.equal(config.issuer, 'https://id.example.com');
    assert.equal(config.masterSecret, GOOD_SECRET);
  });

  test('production refuses to start without MASTER_SECRET', () => {
    const message = refusal({ NODE_ENV: 'production', ISSUER: 'https://id.example.com' });
    assert.match(message, /MASTER_SECRET/);
  });

  test('production refuses an http issuer that is not localhost', () => {
    const message = refusal({ ...https, ISSUER: 'http://id.example.com' });
    assert.match(message, /ISSUER/);
  });

  test('production refuses http on a host that merely starts with localhost', () => {
    const message = refusal({ ...https, ISSUER: 'http://localhost.example.com' });
    assert.match(message, /ISSUER/);
  });

  test('production accepts the default issuer http://localhost:3000', () => {
    const config = loadConfig({ NODE_ENV: 'production', MASTER_SECRET: GOOD_SECRET });
    assert.equal(config.issuer, 'http://localhost:3000');
  });

  test('production accepts http on localhost, 127.0.0.1 and [::1]', () => {
    for (const issuer of ['http://localhost:3000', 'http://127.0.0.1:3000', 'http://[::1]:3000']) {
      assert.equal(loadConfig({ ...https, ISSUER: issuer }).issuer, issuer);
    }
  });

  test('development accepts an http issuer on any host', () => {
    assert.equal(loadConfig({ ISSUER: 'http://id.example.com' }).issuer, 'http://id.example.com');
  });
});

describe('empty strings mean unset', () => {
  test('empty values fall back to the defaults', () => {
    const config = loadConfig({ PORT: '', ISSUER: '', DATABASE_URL: '', LOG_LEVEL: '', TRUST_PROXY: '', DATA_DIR: '' });
    assert.equal(config.port, 3000);
    assert.equal(config.issuer, 'http://localhost:3000');
    assert.equal(config.database.kind, 'embedded');
    assert.equal(config.logLevel, 'info');
    assert.equal(config.trustProxy, false);
    assert.equal(config.dataDir, path.resolve('data'));
  });

  test('an empty MASTER_SECRET counts as missing in production', () => {
    const message = refusal({ NODE_ENV: 'production', ISSUER: 'https://id.example.com', MASTER_SECRET: '' });
    assert.match(message, /MASTER_SECRET: required in production/);
  });

  test('an empty MASTER_SECRET is unset in development rather than too short', () => {
    assert.equal(loadConfig({ MASTER_SECRET: '' }).masterSecret, undefined);
  });
});

describe('warnings', () => {
  // MFA_REQUIRED_ROLES chosen: its own warning (production without SMTP_URL) is mail-config.unit.test.ts's.
  const production = { NODE_ENV: 'production', MASTER_SECRET: GOOD_SECRET, DATABASE_URL: 'postgresql://db.example.com/portcullis', MFA_REQUIRED_ROLES: 'none' };

  test('an https issuer reached over plain http without a trusted proxy is warned about, once set up right it is not', () => {
    const [warning] = configWarnings(loadConfig({ ...production, ISSUER: 'https://auth.example.com' }));
    assert.match(warning ?? '', /TRUST_PROXY=true/);
    assert.deepEqual(configWarnings(loadConfig({ ...production, ISSUER: 'https://auth.example.com', TRUST_PROXY: 'true' })), []);
  });

  test('no warning for an issuer on a loopback host, whichever way it is written', () => {
    for (const issuer of ['http://localhost:3000', 'http://127.0.0.2:3000', 'http://app.localhost:3000', 'http://[::1]:3000']) {
      assert.deepEqual(configWarnings(loadConfig({ ...production, ISSUER: issuer })), [], issuer);
    }
  });
});

describe('key rotation', () => {
  test('the announce delay defaults to the JWKS max-age plus the re-read interval plus a minute', () => {
    assert.deepEqual(loadConfig({}).keys, { jwksMaxAge: 600, refreshInterval: 60, announceDelay: 720, rotationDays: undefined });
    assert.equal(loadConfig({ JWKS_MAX_AGE: '30', KEY_REFRESH_INTERVAL: '5' }).keys.announceDelay, 95);
  });

  test('an announce delay a cached JWKS could outlive is refused at start, naming the variable', () => {
    assert.match(refusal({ JWKS_MAX_AGE: '600', KEY_REFRESH_INTERVAL: '60', KEY_ANNOUNCE_DELAY: '660' }), /KEY_ANNOUNCE_DELAY: must be more than JWKS_MAX_AGE \+ KEY_REFRESH_INTERVAL/);
    assert.equal(loadConfig({ JWKS_MAX_AGE: '600', KEY_REFRESH_INTERVAL: '60', KEY_ANNOUNCE_DELAY: '661' }).keys.announceDelay, 661);
  });
});

describe('shutdown drain and Redis outages', () => {
  test('SHUTDOWN_DRAIN_SECONDS defaults to 0 outside production and 5 in production, and takes 0 or more', () => {
    assert.equal(loadConfig({}).shutdownDrain, 0);
    assert.equal(loadConfig({ NODE_ENV: 'production', ISSUER: 'https://id.example.com', MASTER_SECRET: GOOD_SECRET }).shutdownDrain, 5);
    assert.equal(loadConfig({ NODE_ENV: 'production', ISSUER: 'https://id.example.com', MASTER_SECRET: GOOD_SECRET, SHUTDOWN_DRAIN_SECONDS: '0' }).shutdownDrain, 0);
    assert.equal(loadConfig({ SHUTDOWN_DRAIN_SECONDS: '12' }).shutdownDrain, 12);
    assert.match(refusal({ SHUTDOWN_DRAIN_SECONDS: '-1' }), /SHUTDOWN_DRAIN_SECONDS/);
    assert.match(refusal({ SHUTDOWN_DRAIN_SECONDS: '2.5' }), /SHUTDOWN_DRAIN_SECONDS/);
  });

  test('REDIS_UNAVAILABLE is memory by default, closed on request, and nothing else', () => {
    assert.equal(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' }).redis?.whenUnavailable, 'memory');
    assert.equal(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379', REDIS_UNAVAILABLE: 'closed' }).redis?.whenUnavailable, 'closed');
    assert.match(refusal({ REDIS_URL: 'redis://127.0.0.1:6379', REDIS_UNAVAILABLE: 'open' }), /REDIS_UNAVAILABLE/);
  });
});

describe('grant types served (GRANT_TYPES, DEVICE_FLOW)', () => {
  const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code';

  test('unset: the authorization code, refresh and client credentials; DEVICE_FLOW adds the device grant', () => {
    assert.deepEqual(loadConfig({}).grantTypes, ['authorization_code', 'refresh_token', 'client_credentials']);
    assert.equal(loadConfig({}).deviceFlow, false);
    const device = loadConfig({ DEVICE_FLOW: 'true' });
    assert.deepEqual(device.grantTypes, ['authorization_code', 'refresh_token', 'client_credentials', DEVICE]);
    assert.equal(device.deviceFlow, true);
  });

  test('a list is what is served, by its protocol names, in any order and with spaces', () => {
    const config = loadConfig({ GRANT_TYPES: ' device_code , authorization_code' });
    assert.deepEqual(config.grantTypes, ['authorization_code', DEVICE]);
    assert.equal(config.deviceFlow, true);
    assert.ok(Object.isFrozen(config.grantTypes));
    // Agreeing settings are fine.
    assert.equal(loadConfig({ GRANT_TYPES: 'authorization_code,device_code', DEVICE_FLOW: 'true' }).deviceFlow, true);
    assert.equal(loadConfig({ GRANT_TYPES: 'client_credentials', DEVICE_FLOW: 'false' }).deviceFlow, false);
  });

  test('refused: an unknown name, a blank between commas, an empty list, refresh alone, and DEVICE_FLOW disagreeing', () => {
    assert.match(refusal({ GRANT_TYPES: 'authorization_code,implicit' }), /GRANT_TYPES.*each one of authorization_code, refresh_token, client_credentials, device_code, token_exchange/s);
    assert.match(refusal({ GRANT_TYPES: 'authorization_code,,client_credentials' }), /GRANT_TYPES/);
    assert.match(refusal({ GRANT_TYPES: ' ' }), /GRANT_TYPES/);
    assert.match(refusal({ GRANT_TYPES: 'refresh_token,client_credentials' }), /GRANT_TYPES: refresh_token needs authorization_code or device_code/);
    assert.match(refusal({ GRANT_TYPES: 'authorization_code', DEVICE_FLOW: 'true' }), /DEVICE_FLOW=true but GRANT_TYPES lacks device_code/);
    assert.match(refusal({ GRANT_TYPES: 'device_code', DEVICE_FLOW: 'false' }), /DEVICE_FLOW=false but GRANT_TYPES names device_code/);
  });
});
