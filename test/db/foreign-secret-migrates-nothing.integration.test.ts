import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import pg from 'pg';

import { openRuntime } from '../../src/boot.ts';
import { loadConfig } from '../../src/config/index.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.ts';

// A process of another deployment (another MASTER_SECRET) pointed at this database is
// refused before it migrates anything: a newer CLI or server of the wrong deployment must
// not change the schema under the one that owns the database.

const A = 'first-master-secret-of-at-least-32-characters';
const B = 'other-master-secret-of-at-least-32-characters';
const logger = createLogger({ level: 'silent' });
let testDatabase: TestDatabase;

const configWith = (secret: string) =>
  loadConfig({
    NODE_ENV: 'test',
    ISSUER: 'http://127.0.0.1:3999',
    DATABASE_URL: testDatabase.url,
    DATABASE_POOL_MAX: String(testDatabase.poolMax),
    MASTER_SECRET: secret,
  });

async function query<T extends pg.QueryResultRow>(sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: testDatabase.url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

before(async () => {
  testDatabase = await createTestDatabase();
  const owner = await openRuntime(configWith(A), logger);
  await owner.close();
});
after(() => testDatabase.destroy());

test('another master secret is refused with one line, and the pending migration is left unapplied', async () => {
  // Make the newest migration pending again, as for a newer build meeting an older database.
  const [newest] = await query<{ migration_name: string }>('SELECT migration_name FROM _prisma_migrations ORDER BY migration_name DESC LIMIT 1');
  await query(`DELETE FROM _prisma_migrations WHERE migration_name = '${newest!.migration_name}'`);

  await assert.rejects(openRuntime(configWith(B), logger), /^StartupError: MASTER_SECRET is not the secret this database was set up with/);
  const applied = await query<{ migration_name: string }>(`SELECT migration_name FROM _prisma_migrations WHERE migration_name = '${newest!.migration_name}'`);
  assert.equal(applied.length, 0, 'the foreign process applied nothing');
});
