// Runs node's test runner over the test files of the given speeds. Test files live by feature
// (test/<feature>/<name>.<speed>.test.ts, the feature being the src folder the test is about),
// so a suite is chosen by the speed suffix, not by a folder: `unit`, `integration`, `flow`,
// `e2e`, `redis`, `cluster` (several server processes behind nginx: test/cluster/harness).
// Node 20 does not expand globs itself, hence the walk.
// `--postgres` runs the database-backed suites against the local Postgres server
// (TEST_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/postgres) instead of the
// embedded database; each test file creates and drops its own database.
// `--list` prints the selected files and runs nothing.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const SPEEDS = ['unit', 'integration', 'flow', 'e2e', 'redis', 'cluster'];

const args = process.argv.slice(2);
const env = { ...process.env };
if (args.includes('--postgres')) {
  env.TEST_DATABASE = 'postgres';
  env.TEST_POSTGRES_URL ??= 'postgresql://postgres@127.0.0.1:5432/postgres';
}
const speeds = args.filter((arg) => !arg.startsWith('--'));
const unknown = speeds.filter((speed) => !SPEEDS.includes(speed));
if (speeds.length === 0 || unknown.length > 0) {
  console.error(`usage: run-tests.mjs [--postgres] [--list] <${SPEEDS.join('|')}>...`);
  process.exit(1);
}

function collect(dir) {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return collect(full);
    return name.endsWith('.test.ts') ? [full] : [];
  });
}

const speedOf = (file) => SPEEDS.find((speed) => file.endsWith(`.${speed}.test.ts`));
const all = collect('test').sort();
// A test file without a speed suffix would silently belong to no suite and never run.
const unsorted = all.filter((file) => speedOf(file) === undefined);
if (unsorted.length > 0) {
  console.error(`test files without a speed suffix (*.<${SPEEDS.join('|')}>.test.ts):\n  ${unsorted.join('\n  ')}`);
  process.exit(1);
}
const files = all.filter((file) => speeds.includes(speedOf(file)));
if (files.length === 0) {
  console.error(`no *.{${speeds.join(',')}}.test.ts files under test/`);
  process.exit(1);
}
if (args.includes('--list')) {
  console.log(files.join('\n'));
  process.exit(0);
}
// A cluster file runs several servers, nginx and a load of its own: one file at a time.
const concurrency = speeds.includes('cluster') ? ['--test-concurrency=1'] : [];
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', ...concurrency, '--test-reporter=spec', ...files], {
  stdio: 'inherit',
  env,
});
process.exit(result.status ?? 1);
