import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, beforeEach, describe, test } from 'node:test';

import pg from 'pg';

import { AUDIT_TABLE, createHousekeeping, EXPIRING_TABLES } from '../../src/db/housekeeping.ts';
import { HOUSEKEEPING_LOCK } from '../../src/db/index.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { createMigratedDatabase, TEST_ENGINE } from '../helpers/test-database.ts';

// Housekeeping against a real database: it removes exactly the rows that have expired
// and the events older than the retention, and only one instance runs a round.

let database: Awaited<ReturnType<typeof createMigratedDatabase>>;
const logger = createLogger({ level: 'silent' });

/** Rows named for what they are: two expired, one live, one that never expires. */
async function seed(): Promise<void> {
  const { pool } = database;
  for (const table of EXPIRING_TABLES) {
    await pool.query(`DELETE FROM "${table}"`);
    const rows: [string, string | null][] = [
      ['expired-long-ago', "now() - interval '1 day'"],
      ['expired-just-now', "now() - interval '1 second'"],
      ['live', "now() + interval '1 hour'"],
      ['never-expires', null],
    ];
    for (const [id, expiresAt] of rows) {
      if (table === 'revoked_access_tokens') {
        if (expiresAt === null) continue; // the deny-list always has an expiry
        await pool.query(`INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ($1, ${expiresAt})`, [id]);
      } else if (table === 'webauthn_challenges') {
        if (expiresAt === null) continue; // a challenge always has an expiry
        await pool.query(`INSERT INTO webauthn_challenges (challenge_hash, purpose, binding, expires_at) VALUES ($1, 'sign-in', 'uid', ${expiresAt})`, [id]);
      } else if (table === 'oidc_sessions') {
        await pool.query(`INSERT INTO oidc_sessions (id, uid, payload, expires_at) VALUES ($1, $1, '{}', ${expiresAt ?? 'NULL'})`, [id]);
      } else {
        await pool.query(`INSERT INTO "${table}" (id, payload, expires_at) VALUES ($1, '{}', ${expiresAt ?? 'NULL'})`, [id]);
      }
    }
  }
  await pool.query(`DELETE FROM "${AUDIT_TABLE}"`);
  for (const [type, age] of [
    ['test.older-than-retention', '91 days'],
    ['test.inside-retention', '89 days'],
    ['test.recent', '1 minute'],
  ]) {
    await pool.query(`INSERT INTO "${AUDIT_TABLE}" (type, time) VALUES ($1, now() - $2::interval)`, [type, age]);
  }
}

async function remaining(table: string): Promise<string[]> {
  const column = table === 'revoked_access_tokens' ? 'jti' : table === 'webauthn_challenges' ? 'challenge_hash' : table === AUDIT_TABLE ? 'type' : 'id';
  const { rows } = await database.pool.query<{ key: string }>(`SELECT ${column} AS key FROM "${table}" ORDER BY 1`);
  return rows.map((row) => row.key);
}

before(async () => {
  database = await createMigratedDatabase();
});

after(async () => {
  await database?.destroy();
});

beforeEach(seed);

describe('housekeeping', () => {
  test('purges exactly the expired oidc records and deny-list entries, and events past the retention', async () => {
    const housekeeping = createHousekeeping({ pool: database.pool, logger, eventRetentionDays: 90, intervalMs: 60_000 });
    const report = await housekeeping.runOnce();
    assert.equal(report.ran, true);
    assert.deepEqual(report.deleted, { ...Object.fromEntries(EXPIRING_TABLES.map((table) => [table, 2])), [AUDIT_TABLE]: 1 });
    for (const table of EXPIRING_TABLES) {
      const alwaysExpire = table === 'revoked_access_tokens' || table === 'webauthn_challenges';
      assert.deepEqual(await remaining(table), alwaysExpire ? ['live'] : ['live', 'never-expires'], table);
    }
    assert.deepEqual(await remaining(AUDIT_TABLE), ['test.inside-retention', 'test.recent']);
    // A second round finds nothing left to do.
    assert.deepEqual((await housekeeping.runOnce()).deleted, {});
  });

  test('clears the sealed response of a rotation once its grace window is over, and keeps the token', async () => {
    await database.pool.query(`INSERT INTO oidc_refresh_tokens (id, payload, expires_at, consumed_at, rotated_at, successor_ciphertext) VALUES
      ('rotated-long-ago', '{}', now() + interval '1 day', now() - interval '1 minute', now() - interval '1 minute', 'sealed-old'),
      ('rotated-just-now', '{}', now() + interval '1 day', now(), now(), 'sealed-new')`);
    await createHousekeeping({ pool: database.pool, logger, eventRetentionDays: 90, intervalMs: 60_000, refreshGraceSeconds: 10 }).runOnce();
    const { rows } = await database.pool.query<{ id: string; successor_ciphertext: string | null }>(
      "SELECT id, successor_ciphertext FROM oidc_refresh_tokens WHERE id LIKE 'rotated-%' ORDER BY id",
    );
    assert.deepEqual(rows, [
      { id: 'rotated-just-now', successor_ciphertext: 'sealed-new' },
      { id: 'rotated-long-ago', successor_ciphertext: null },
    ]);
  });

  test('purges expired invitations and sign-up links (a link with its invitation), and keeps live ones', async () => {
    const { pool } = database;
    await pool.query(`DELETE FROM sign_up_links`);
    await pool.query(`DELETE FROM invitations`);
    await pool.query(`INSERT INTO invitations (token_hash, created_by, expires_at) VALUES
      ('invitation-expired', 'test', now() - interval '1 second'), ('invitation-live', 'test', now() + interval '1 day')`);
    await pool.query(`INSERT INTO sign_up_links (token_hash, email, invitation_hash, expires_at) VALUES
      ('link-expired', 'a@example.com', NULL, now() - interval '1 second'),
      ('link-live', 'b@example.com', NULL, now() + interval '1 hour'),
      ('link-live-of-expired-invitation', 'c@example.com', 'invitation-expired', now() + interval '1 hour')`);
    const report = await createHousekeeping({ pool, logger, eventRetentionDays: 90, intervalMs: 60_000 }).runOnce();
    assert.equal(report.deleted.sign_up_links, 1);
    assert.equal(report.deleted.invitations, 1);
    const left = async (table: string) => (await pool.query<{ key: string }>(`SELECT token_hash AS key FROM ${table} ORDER BY 1`)).rows.map((row) => row.key);
    assert.deepEqual(await left('invitations'), ['invitation-live']);
    assert.deepEqual(await left('sign_up_links'), ['link-live'], 'a link goes with its expired invitation');
  });

  test('purges expired links to a new address, and keeps live ones', async () => {
    const { pool } = database;
    const account = await database.prisma.account.create({ data: { email: `purge-change-${Date.now()}@example.com`, name: 'Purge' } });
    await pool.query(`INSERT INTO email_changes (token_hash, account_id, email, expires_at) VALUES
      ('change-expired', $1, 'new1@example.com', now() - interval '1 second'),
      ('change-live', $1, 'new2@example.com', now() + interval '1 hour')`, [account.id]);
    const report = await createHousekeeping({ pool, logger, eventRetentionDays: 90, intervalMs: 60_000 }).runOnce();
    assert.equal(report.deleted.email_changes, 1);
    const { rows } = await pool.query<{ key: string }>(`SELECT token_hash AS key FROM email_changes ORDER BY 1`);
    assert.deepEqual(rows.map((row) => row.key), ['change-live']);
  });

  test('deletes in small batches until nothing expired is left', async () => {
    const housekeeping = createHousekeeping({ pool: database.pool, logger, eventRetentionDays: 90, intervalMs: 60_000, batchSize: 1 });
    const report = await housekeeping.runOnce();
    assert.equal(report.deleted.oidc_access_tokens, 2);
    assert.deepEqual(await remaining('oidc_access_tokens'), ['live', 'never-expires']);
  });

  test('follows EVENT_RETENTION_DAYS', async () => {
    const housekeeping = createHousekeeping({ pool: database.pool, logger, eventRetentionDays: 1, intervalMs: 60_000 });
    await housekeeping.runOnce();
    assert.deepEqual(await remaining(AUDIT_TABLE), ['test.recent']);
  });

  test('counts what it purged in the metrics', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    await createHousekeeping({ pool: database.pool, logger, metrics, eventRetentionDays: 90, intervalMs: 60_000 }).runOnce();
    const text = await metrics.registry.metrics();
    assert.match(text, /portcullis_housekeeping_deleted_rows_total\{table="oidc_refresh_tokens"\} 2/);
    assert.match(text, /portcullis_housekeeping_deleted_rows_total\{table="audit_events"\} 1/);
    assert.match(text, /portcullis_housekeeping_runs_total\{outcome="ran"\} 1/);
  });

  test('runs on its schedule until stopped', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const housekeeping = createHousekeeping({ pool: database.pool, logger, metrics, eventRetentionDays: 90, intervalMs: 50 });
    housekeeping.start();
    await sleep(400);
    await housekeeping.stop();
    const runs = Number(/portcullis_housekeeping_runs_total\{outcome="ran"\} (\d+)/.exec(await metrics.registry.metrics())?.[1]);
    assert.ok(runs >= 2, `ran ${runs} times`);
    assert.deepEqual(await remaining('oidc_grants'), ['live', 'never-expires']);
    await sleep(150);
    assert.equal(Number(/portcullis_housekeeping_runs_total\{outcome="ran"\} (\d+)/.exec(await metrics.registry.metrics())?.[1]), runs, 'no round after stop()');
  });

  test(
    'skips the round while another instance holds the lock',
    { skip: TEST_ENGINE === 'embedded' && 'the embedded database serves one connection: there is no other instance' },
    async () => {
      const other = new pg.Client({ connectionString: database.testDatabase.url });
      await other.connect();
      try {
        await other.query('SELECT pg_advisory_lock($1)', [HOUSEKEEPING_LOCK]);
        const metrics = createMetrics({ defaultMetrics: false });
        const housekeeping = createHousekeeping({ pool: database.pool, logger, metrics, eventRetentionDays: 90, intervalMs: 60_000 });
        assert.deepEqual(await housekeeping.runOnce(), { ran: false, deleted: {} });
        assert.deepEqual(await remaining('oidc_sessions'), ['expired-just-now', 'expired-long-ago', 'live', 'never-expires']);
        assert.match(await metrics.registry.metrics(), /portcullis_housekeeping_runs_total\{outcome="skipped"\} 1/);
        await other.query('SELECT pg_advisory_unlock($1)', [HOUSEKEEPING_LOCK]);
        assert.equal((await housekeeping.runOnce()).ran, true);
        assert.deepEqual(await remaining('oidc_sessions'), ['live', 'never-expires']);
      } finally {
        await other.end();
      }
    },
  );
});
