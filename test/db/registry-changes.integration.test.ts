import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';

import { createClientStore, createResourceStore } from '../../src/clients/index.ts';
import { createRegistryChanges, type RegistryChanges } from '../../src/db/index.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { sampleClient } from '../contracts/client-store.ts';
import { sampleResource } from '../contracts/resource-store.ts';
import { createMigratedDatabase, TEST_ENGINE } from '../helpers/test-database.ts';

// The registry's change feed against a real database: the trigger of migration
// registry_change_feed counts and announces every write to clients, resource servers and
// scopes, whoever makes it, and the listener (db/registry-changes.ts) hears it, notices
// when it cannot, and comes back by itself.

let database: Awaited<ReturnType<typeof createMigratedDatabase>>;
const logger = createLogger({ level: 'silent' });
const POSTGRES_ONLY = TEST_ENGINE === 'embedded' && 'the embedded database serves one connection, which a listener would hold (no feed there: nothing is cached)';

before(async () => {
  database = await createMigratedDatabase();
});
after(async () => {
  await database.destroy();
});

async function version(): Promise<bigint> {
  const { rows } = await database.pool.query<{ version: string }>('SELECT version FROM registry_version WHERE id = 1');
  return BigInt(rows[0]!.version);
}

/** Resolves with how long it took until `check` held; fails after `withinMs`. */
async function until(check: () => boolean, withinMs: number, what: string): Promise<number> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > withinMs) assert.fail(`${what}: not within ${withinMs} ms`);
    await sleep(5);
  }
  return Date.now() - started;
}

test('every write to clients, resource servers and their scopes counts as a change', async () => {
  const clients = createClientStore(database.prisma);
  const resources = createResourceStore(database.prisma);
  let before = await version();
  const changed = async (what: string) => {
    const now = await version();
    assert.ok(now > before, `${what} bumped the registry version`);
    before = now;
  };
  await resources.create(sampleResource('https://api.example.com'));
  await changed('creating a resource server');
  await resources.put(sampleResource('https://api.example.com', { scopes: [{ name: 'read', description: '', roles: [] }] }));
  await changed('replacing its scopes');
  await clients.create(sampleClient('app-1'));
  await changed('creating a client');
  await clients.update('app-1', { name: 'Renamed' });
  await changed('updating it');
  await database.pool.query(`UPDATE clients SET token_generation = gen_random_uuid() WHERE client_id = 'app-1'`);
  await changed('an UPDATE by hand');
  await clients.delete('app-1');
  await changed('deleting it');
  // Other tables are not the registry.
  await database.pool.query(`INSERT INTO audit_events (type) VALUES ('test.not-registry')`);
  assert.equal(await version(), before);
});

describe('the listener', { skip: POSTGRES_ONLY }, () => {
  let feed: RegistryChanges;
  let changes = 0;
  before(async () => {
    feed = createRegistryChanges({ url: database.testDatabase.url, logger, heartbeatMs: 500 });
    feed.onChange(() => changes++);
    await feed.start();
  });
  after(async () => {
    await feed.close();
  });

  test('is live once started, and hears a write made over another connection within a second', async () => {
    assert.equal(feed.isLive(), true);
    const seen = changes;
    await database.pool.query(`UPDATE clients SET name = name`);
    const ms = await until(() => changes > seen, 1_000, 'the change was heard');
    assert.ok(ms < 1_000);
  });

  test('when its connection is killed it is not live at once, reports a change, and is back by itself', async () => {
    const seen = changes;
    const { rows } = await database.pool.query<{ pid: number }>(
      // The listener's backend last ran its LISTEN or a heartbeat (a read of the counter).
      `SELECT pid FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid() AND (query LIKE 'LISTEN%' OR query LIKE 'SELECT version FROM registry_version%')`,
    );
    assert.ok(rows.length >= 1, 'the listening backend is found');
    for (const { pid } of rows) await database.pool.query('SELECT pg_terminate_backend($1)', [pid]);
    await until(() => !feed.isLive(), 2_000, 'the feed noticed the loss');
    assert.ok(changes > seen, 'the loss counts as a change: anything may change unheard');
    await until(() => feed.isLive(), 5_000, 'the feed came back');
    const again = changes;
    await database.pool.query(`UPDATE resource_servers SET name = name`);
    await until(() => changes > again, 1_000, 'a change after the reconnect was heard');
  });

  test('a change whose notification never came (a pooler in between) is reported within one heartbeat, and logged', async () => {
    const seen = changes;
    // The counter moves as the trigger moves it, but no NOTIFY is sent.
    await database.pool.query('UPDATE registry_version SET version = version + 1 WHERE id = 1');
    await until(() => changes > seen, 2_000, 'the change was found by the heartbeat');
  });

  test('after close it is not live and hears nothing', async () => {
    const closing = createRegistryChanges({ url: database.testDatabase.url, logger });
    let heard = 0;
    closing.onChange(() => heard++);
    await closing.start();
    await closing.close();
    const before = heard;
    await database.pool.query(`UPDATE clients SET name = name`);
    await sleep(200);
    assert.equal(closing.isLive(), false);
    assert.equal(heard, before);
  });
});
