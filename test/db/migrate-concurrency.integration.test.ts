import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';

import { createDatabase, migrate, readMigrations, type Database, type Migration } from '../../src/db/index.ts';
import { createTestDatabase, TEST_ENGINE, type TestDatabase } from '../helpers/test-database.ts';

// Instances starting together each run migrate(). On Postgres every instance has its own
// pool, so the calls really race and only the advisory lock keeps them apart. The embedded
// database serves one connection at a time, so there the calls share one pool and queue;
// the assertions are the same.

const RACERS = 4;

let testDatabase: TestDatabase;
const databases: Database[] = [];

before(async () => {
  testDatabase = await createTestDatabase();
  const pools = TEST_ENGINE === 'postgres' ? RACERS : 1;
  for (let index = 0; index < pools; index++) {
    databases.push(createDatabase({ url: testDatabase.url, poolMax: testDatabase.poolMax }));
  }
});

after(async () => {
  await Promise.all(databases.map((database) => database.close()));
  await testDatabase?.destroy();
});

function slowMigration(name: string): Migration {
  // Slow enough that the racers overlap; applying it twice would fail (the table exists).
  const sql = 'SELECT pg_sleep(0.3); CREATE TABLE applied_once (id int);';
  return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
}

test(`${RACERS} concurrent migrate() calls on a fresh database apply each migration exactly once`, async () => {
  const migrations = [...(await readMigrations()), slowMigration('99999999999999_slow')];
  const names = migrations.map((migration) => migration.name);

  const reports = await Promise.all(
    Array.from({ length: RACERS }, (_, index) => migrate(databases[index % databases.length]!.pool, migrations)),
  );

  const applied = reports.flatMap((report) => report.applied);
  assert.deepEqual([...applied].sort(), [...names].sort(), 'every migration applied by exactly one caller');
  for (const report of reports) {
    assert.equal(report.applied.length + report.alreadyApplied, names.length);
  }
  const { rows } = await databases[0]!.pool.query<{ migration_name: string; count: string; finished: string }>(
    `SELECT migration_name, count(*)::text AS count, count(finished_at)::text AS finished
       FROM "_prisma_migrations" GROUP BY migration_name ORDER BY migration_name`,
  );
  assert.deepEqual(
    rows,
    names.map((name) => ({ migration_name: name, count: '1', finished: '1' })),
  );
});

test('once the race is over, every caller sees the database up to date', async () => {
  const migrations = [...(await readMigrations()), slowMigration('99999999999999_slow')];
  const reports = await Promise.all(databases.map((database) => migrate(database.pool, migrations)));
  for (const report of reports) assert.deepEqual(report, { applied: [], alreadyApplied: migrations.length });
});
