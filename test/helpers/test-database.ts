import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import pg from 'pg';

import { createDatabase, migrate, type Database } from '../../src/db/index.ts';
import { EMBEDDED_POOL_MAX, startEmbeddedDatabase } from '../../src/db/embedded-database.ts';

// One fresh database per test file, on the engine the run asks for: the embedded database
// by default (npm test), or the local Postgres server with TEST_DATABASE=postgres
// (npm run test:postgres). Both get the same migrations and the same tests.

export const TEST_ENGINE = process.env.TEST_DATABASE === 'postgres' ? 'postgres' : 'embedded';

export interface TestDatabase {
  readonly engine: 'postgres' | 'embedded';
  readonly url: string;
  readonly poolMax: number;
  /** Drops (Postgres) or deletes (embedded) the database. */
  destroy(): Promise<void>;
}

/** An empty database: no migration applied (what a first start, or a migration test, sees). */
export async function createTestDatabase(): Promise<TestDatabase> {
  if (TEST_ENGINE === 'postgres') {
    const serverUrl = process.env.TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
    const name = `portcullis_test_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: serverUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const url = new URL(serverUrl);
    url.pathname = `/${name}`;
    return {
      engine: 'postgres',
      url: url.toString(),
      poolMax: 10,
      async destroy() {
        const client = new pg.Client({ connectionString: serverUrl });
        await client.connect();
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await client.end();
      },
    };
  }
  return startEmbedded(await mkdtemp(path.join(os.tmpdir(), 'portcullis-test-')));
}

/**
 * A database with every migration applied. On the embedded database under run-tests.mjs
 * it is a copy of the run's template (TEST_EMBEDDED_TEMPLATE, see
 * scripts/make-test-template.ts): a copy starts in a fraction of a fresh folder's time.
 * Whoever opens it still runs migrate(), which then finds nothing to do.
 */
export async function createTestDatabaseWithSchema(): Promise<TestDatabase> {
  const template = process.env.TEST_EMBEDDED_TEMPLATE;
  if (TEST_ENGINE === 'postgres' || !template) return createTestDatabase();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'portcullis-test-'));
  await cp(template, path.join(dataDir, 'pglite'), { recursive: true });
  return startEmbedded(dataDir);
}

async function startEmbedded(dataDir: string): Promise<TestDatabase> {
  const embedded = await startEmbeddedDatabase({ dataDir });
  return {
    engine: 'embedded',
    url: embedded.url,
    poolMax: EMBEDDED_POOL_MAX,
    async destroy() {
      await embedded.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A fresh, migrated database with its pool and Prisma client. */
export async function createMigratedDatabase(): Promise<Database & { testDatabase: TestDatabase; destroy(): Promise<void> }> {
  const testDatabase = await createTestDatabaseWithSchema();
  const database = createDatabase({ url: testDatabase.url, poolMax: testDatabase.poolMax });
  await migrate(database.pool);
  return Object.assign(database, {
    testDatabase,
    async destroy() {
      await database.close();
      await testDatabase.destroy();
    },
  });
}
