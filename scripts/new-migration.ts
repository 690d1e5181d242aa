// Writes the next migration: the SQL that takes a database built by the existing
// migrations to prisma/schema.prisma, in Prisma's layout (`<UTC timestamp>_<name>/
// migration.sql` plus migration_lock.toml), so `prisma migrate deploy` and our runner
// both apply it. Usage: new-migration NAME [--schema PATH]
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { diffMigrationsToSchema, fail, LOCKFILE, LOCKFILE_PATH, MIGRATIONS_DIR, readArgs, shown } from './schema-engine.ts';

const { schemaPath, positionals } = readArgs();
const [name] = positionals;
// Folder names sort by timestamp and end up in _prisma_migrations: keep them plain.
if (!name || !/^[a-z0-9_]+$/.test(name)) fail('usage: new-migration NAME [--schema PATH]   (NAME: a-z, 0-9, _)');

const sql = await diffMigrationsToSchema(schemaPath).catch(fail);
if (sql === null) {
  console.log('no changes');
} else {
  // Prisma's own format: YYYYMMDDHHMMSS in UTC.
  const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
  const folder = path.join(MIGRATIONS_DIR, `${stamp}_${name}`);
  await mkdir(MIGRATIONS_DIR, { recursive: true });
  await mkdir(folder); // fails rather than overwrite a migration
  await writeFile(path.join(folder, 'migration.sql'), sql);
  await writeFile(LOCKFILE_PATH, LOCKFILE, { flag: 'wx' }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
  console.log(`wrote ${shown(path.join(folder, 'migration.sql'))}`);
}
