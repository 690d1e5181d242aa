import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { createDatabase, migrate, MigrationError, pendingMigrations, readMigrations, type Database, type Migration } from '../../src/db/index.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.ts';

const migrationsDir = fileURLToPath(new URL('../../prisma/migrations/', import.meta.url));

interface MigrationRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
  applied_steps_count: number;
}

/** The migrations on disk, read independently of the code under test. */
async function migrationFiles(): Promise<{ name: string; checksum: string }[]> {
  const entries = await readdir(migrationsDir, { withFileTypes: true });
  const names = entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name).sort();
  return Promise.all(
    names.map(async (name) => ({
      name,
      checksum: createHash('sha256').update(await readFile(path.join(migrationsDir, name, 'migration.sql'))).digest('hex'),
    })),
  );
}

function extra(name: string, sql: string): Migration {
  return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
}

let testDatabase: TestDatabase;
let database: Database;
let files: { name: string; checksum: string }[];
let real: Migration[];

before(async () => {
  testDatabase = await createTestDatabase();
  database = createDatabase({ url: testDatabase.url, poolMax: testDatabase.poolMax });
  files = await migrationFiles();
  real = await readMigrations();
});

after(async () => {
  await database?.close();
  await testDatabase?.destroy();
});

async function rows(): Promise<MigrationRow[]> {
  const result = await database.pool.query<MigrationRow>(
    'SELECT migration_name, checksum, finished_at, rolled_back_at, applied_steps_count FROM "_prisma_migrations" ORDER BY migration_name',
  );
  return result.rows;
}

async function tableExists(name: string): Promise<boolean> {
  const result = await database.pool.query<{ found: string | null }>('SELECT to_regclass($1)::text AS found', [name]);
  return result.rows[0]?.found !== null;
}

function assertMigrationError(pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof MigrationError, `expected MigrationError, got ${String(error)}`);
    assert.equal(error.code, 'migration_failed');
    assert.match(error.message, pattern);
    return true;
  };
}

describe('reading migrations', () => {
  test('readMigrations lists prisma/migrations in name order with the sha256 of each file', () => {
    assert.ok(files.length >= 1);
    assert.deepEqual(
      real.map(({ name, checksum }) => ({ name, checksum })),
      files,
    );
    for (const migration of real) assert.match(migration.checksum, /^[0-9a-f]{64}$/);
  });

  test('readMigrations sorts folders by name and ignores loose files', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'portcullis-migrations-'));
    try {
      for (const name of ['20300101000000_second', '20200101000000_first']) {
        await mkdir(path.join(dir, name));
        await writeFile(path.join(dir, name, 'migration.sql'), `-- ${name}\nSELECT 1;\n`);
      }
      await writeFile(path.join(dir, 'migration_lock.toml'), 'provider = "postgresql"\n');
      const read = await readMigrations(dir);
      assert.deepEqual(read.map((migration) => migration.name), ['20200101000000_first', '20300101000000_second']);
      assert.equal(read[0]!.sql, '-- 20200101000000_first\nSELECT 1;\n');
      assert.equal(read[0]!.checksum, createHash('sha256').update(read[0]!.sql).digest('hex'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

// The tests below run in order on one database, from empty to fully migrated.
describe('migrating a fresh database', () => {
  test('before any migration, pendingMigrations lists every migration', async () => {
    assert.equal(await tableExists('_prisma_migrations'), false);
    assert.deepEqual(await pendingMigrations(database.pool), files.map((file) => file.name));
  });

  test('migrate applies every migration and records each with finished_at and the file’s sha256', async () => {
    const report = await migrate(database.pool);
    assert.deepEqual(report, { applied: files.map((file) => file.name), alreadyApplied: 0 });
    const recorded = await rows();
    assert.deepEqual(
      recorded.map((row) => ({ name: row.migration_name, checksum: row.checksum })),
      files,
    );
    for (const row of recorded) {
      assert.ok(row.finished_at instanceof Date, `${row.migration_name} has no finished_at`);
      assert.equal(row.rolled_back_at, null);
      assert.equal(row.applied_steps_count, 1);
    }
    for (const table of ['accounts', 'clients', 'resource_servers', 'resource_scopes']) {
      assert.ok(await tableExists(table), `table ${table} missing`);
    }
  });

  test('a second run applies nothing and records nothing new', async () => {
    const before = await rows();
    const report = await migrate(database.pool);
    assert.deepEqual(report, { applied: [], alreadyApplied: files.length });
    assert.deepEqual(await rows(), before);
    assert.deepEqual(await pendingMigrations(database.pool), []);
  });

  test('pendingMigrations lists exactly the migrations not yet applied, in order', async () => {
    const later = [extra('99999999999990_later_a', 'SELECT 1;'), extra('99999999999991_later_b', 'SELECT 1;')];
    assert.deepEqual(await pendingMigrations(database.pool, [...real, ...later]), ['99999999999990_later_a', '99999999999991_later_b']);
    assert.deepEqual(await pendingMigrations(database.pool, real), []);
  });
});

describe('a failing migration', () => {
  const broken: Migration = {
    name: '99999999999999_broken',
    sql: 'CREATE TABLE ok_table(id int); SELECT * FROM missing_table;',
    checksum: 'x',
  };
  // Sorts after the broken one and must never run once it fails.
  const afterBroken: Migration = { ...extra('99999999999999_zz_after_broken', 'CREATE TABLE after_broken_table(id int);') };

  test('throws a MigrationError naming it, rolls back its statements and records nothing for it or what follows', async () => {
    const before = await rows();
    await assert.rejects(migrate(database.pool, [...real, broken, afterBroken]), assertMigrationError(/99999999999999_broken/));
    assert.equal(await tableExists('ok_table'), false, 'ok_table survived: the failed migration was not rolled back');
    assert.equal(await tableExists('after_broken_table'), false, 'a migration after the failed one was applied');
    assert.deepEqual(await rows(), before);
  });

  test('the error says why it failed', async () => {
    await assert.rejects(migrate(database.pool, [...real, broken]), assertMigrationError(/missing_table/));
  });

  test('leaves the database usable: the next run without it applies what follows', async () => {
    const report = await migrate(database.pool, [...real, afterBroken]);
    assert.deepEqual(report.applied, [afterBroken.name]);
    assert.ok(await tableExists('after_broken_table'));
  });
});

describe('guarding applied migrations', () => {
  test('an applied migration whose file was edited (same name, other checksum) is refused, naming it', async () => {
    const [first, ...rest] = real;
    const edited = { ...first!, sql: `${first!.sql}\n-- edited`, checksum: createHash('sha256').update(`${first!.sql}\n-- edited`).digest('hex') };
    const next = extra('99999999999995_after_edit', 'CREATE TABLE after_edit_table(id int);');
    await assert.rejects(migrate(database.pool, [edited, ...rest, next]), assertMigrationError(new RegExp(`${first!.name}.*edited`)));
    assert.equal(await tableExists('after_edit_table'), false);
    const row = (await rows()).find((candidate) => candidate.migration_name === first!.name);
    assert.equal(row?.checksum, first!.checksum);
  });

  test('a migration left unfinished by an earlier attempt blocks further runs until it is marked rolled back', async () => {
    const name = '99999999999996_half_done';
    await database.pool.query(
      `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at) VALUES ('00000000-0000-4000-8000-000000000001', 'abc', $1, now())`,
      [name],
    );
    const next = extra('99999999999997_after_half_done', 'CREATE TABLE after_half_done_table(id int);');
    await assert.rejects(migrate(database.pool, [...real, next]), assertMigrationError(new RegExp(`${name}.*failed earlier`)));
    assert.equal(await tableExists('after_half_done_table'), false);
    assert.deepEqual(await pendingMigrations(database.pool, [...real, extra(name, 'SELECT 1;')]), [name]);

    await database.pool.query('UPDATE "_prisma_migrations" SET rolled_back_at = now() WHERE migration_name = $1', [name]);
    assert.deepEqual((await migrate(database.pool, [...real, next])).applied, [next.name]);
  });
});
