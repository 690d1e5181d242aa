// Runs node's test runner over every *.test.ts below the given folders (Node 20 does not
// expand globs itself). `--postgres` runs the database-backed suites against the local
// Postgres server (TEST_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/postgres)
// instead of the embedded database; each test file creates and drops its own database.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const args = process.argv.slice(2);
const env = { ...process.env };
if (args.includes('--postgres')) {
  env.TEST_DATABASE = 'postgres';
  env.TEST_POSTGRES_URL ??= 'postgresql://postgres@127.0.0.1:5432/postgres';
}
const roots = args.filter((arg) => !arg.startsWith('--'));

function collect(dir) {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return collect(full);
    return name.endsWith('.test.ts') ? [full] : [];
  });
}

const files = roots.flatMap(collect).sort();
if (files.length === 0) {
  console.error(`no test files under ${roots.join(', ')}`);
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...files], {
  stdio: 'inherit',
  env,
});
process.exit(result.status ?? 1);
