import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
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
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'portcullis-test-'));
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
  const testDatabase = await createTestDatabase();
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
