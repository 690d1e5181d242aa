// Fails when prisma/migrations does not build exactly prisma/schema.prisma: someone
// changed the schema without `npm run db:new-migration`, or edited a migration. Needs no
// database server. Exit 0: no drift; 1: drift, the missing SQL on stdout; 2: could not
// check (a migration that does not apply, an invalid schema...).
// Usage: check-drift [--schema PATH]
import { diffMigrationsToSchema, fail, MIGRATIONS_DIR, readArgs, shown } from './schema-engine.ts';

const { schemaPath } = readArgs();
const started = Date.now();
const sql = await diffMigrationsToSchema(schemaPath).catch(fail);
const seconds = ((Date.now() - started) / 1000).toFixed(1);
const migrations = shown(MIGRATIONS_DIR);
const schema = shown(schemaPath);

if (sql === null) {
  console.log(`no drift: ${migrations} matches ${schema} (${seconds} s)`);
} else {
  console.error(`drift: ${migrations} does not match ${schema}; a new migration would need:\n`);
  process.stdout.write(sql);
  process.exitCode = 1;
}
