import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import type { Sql } from '../../src/db/index.ts';
import { createBearerLookups } from '../../src/oidc/bearer-lookups.ts';
import { createMigratedDatabase } from '../helpers/test-database.ts';

// A presented token looked up in every model it could be at once (the engine's
// introspection and revocation without a hint) costs one query; a lookup alone is left to
// its adapter; each model gets its own row or none, never another model's.

let database: Awaited<ReturnType<typeof createMigratedDatabase>>;
let queries = 0;
let counted: Sql;

before(async () => {
  database = await createMigratedDatabase();
  const { pool } = database;
  counted = {
    query: ((...args: Parameters<Sql['query']>) => {
      queries++;
      return (pool.query as (...a: unknown[]) => unknown)(...args);
    }) as Sql['query'],
  };
  await database.pool.query(`INSERT INTO oidc_client_credentials (id, payload, expires_at) VALUES ('cc-id', '{"kind":"ClientCredentials"}', now() + interval '1 hour')`);
  await database.pool.query(`INSERT INTO oidc_access_tokens (id, payload, expires_at) VALUES ('expired-id', '{"kind":"AccessToken"}', now() - interval '1 hour')`);
  await database.pool.query(`INSERT INTO oidc_refresh_tokens (id, payload, expires_at) VALUES ('rt-id', '{"kind":"RefreshToken"}', now() + interval '1 hour')`);
});
after(async () => {
  await database.destroy();
});

test('three models asked for one value in the same tick: one query, each answered with its own row', async () => {
  const lookups = createBearerLookups(counted);
  queries = 0;
  const [access, credentials, refresh] = await Promise.all([
    lookups.lookup('AccessToken', 'cc-id'),
    lookups.lookup('ClientCredentials', 'cc-id'),
    lookups.lookup('RefreshToken', 'cc-id'),
  ]);
  assert.equal(queries, 1);
  assert.deepEqual(access, { alone: false, row: null });
  assert.equal(credentials.alone, false);
  assert.deepEqual(!credentials.alone && credentials.row?.payload, { kind: 'ClientCredentials' });
  assert.deepEqual(refresh, { alone: false, row: null });
});

test('a refresh token is found by the batch only as a row that exists (its adapter reads it fully)', async () => {
  const lookups = createBearerLookups(counted);
  const [access, refresh] = await Promise.all([lookups.lookup('AccessToken', 'rt-id'), lookups.lookup('RefreshToken', 'rt-id')]);
  assert.deepEqual(access, { alone: false, row: null });
  assert.ok(!refresh.alone && refresh.row !== null);
});

test('an expired row comes back with its expiry (the adapter treats it as absent)', async () => {
  const lookups = createBearerLookups(counted);
  const [access] = await Promise.all([lookups.lookup('AccessToken', 'expired-id'), lookups.lookup('ClientCredentials', 'expired-id')]);
  assert.ok(!access.alone && access.row && access.row.expiresAt!.getTime() < Date.now());
});

test('a lookup alone in its tick, or of another value, is left to the adapter: no query here', async () => {
  const lookups = createBearerLookups(counted);
  queries = 0;
  const [one, other] = await Promise.all([lookups.lookup('AccessToken', 'cc-id'), lookups.lookup('ClientCredentials', 'rt-id')]);
  assert.deepEqual([one, other], [{ alone: true }, { alone: true }]);
  assert.equal(queries, 0);
});

test('a failed query fails every lookup of the batch', async () => {
  const failing = { query: () => Promise.reject(new Error('connection lost')) } as unknown as Sql;
  const lookups = createBearerLookups(failing);
  const results = await Promise.allSettled([lookups.lookup('AccessToken', 'x'), lookups.lookup('RefreshToken', 'x')]);
  assert.deepEqual(results.map((result) => result.status), ['rejected', 'rejected']);
});
