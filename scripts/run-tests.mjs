// Runs node's test runner over the test files of the given speeds. Test files live by feature
// (test/<feature>/<name>.<speed>.test.ts, the feature being the src folder the test is about),
// so a suite is chosen by the speed suffix, not by a folder: `unit`, `integration`, `flow`,
// `e2e`, `redis`, `cluster` (several server processes behind nginx: test/cluster/harness).
// Node 20 does not expand globs itself, hence the walk.
// `--postgres` runs the database-backed suites against the local Postgres server
// (TEST_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/postgres) instead of the
// embedded database; each test file creates and drops its own database.
// `--list` prints the selected files and runs nothing.
// On the embedded database the run first makes one migrated template folder that test
// files copy instead of making their own (scripts/make-test-template.ts).
// Files run TEST_CONCURRENCY at a time (default below): they wait on sockets, timers and
// the database as much as they compute, and each has its own database, ports and Redis
// key prefix.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { ensureBuilt } from './ensure-built.mjs';

const SPEEDS = ['unit', 'integration', 'flow', 'e2e', 'redis', 'cluster'];
// Node's own default is one fewer than the cores, one file at a time on a 2-core machine;
// measured there, two at a time ran the flow suite in 378 s instead of about 650 s.
const DEFAULT_CONCURRENCY = Math.max(2, os.availableParallelism());

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

// A cluster file runs several servers, nginx and a load of its own, and a browser file a
// Chromium: one file at a time.
const concurrency = speeds.includes('cluster') || speeds.includes('e2e') ? 1 : Number(process.env.TEST_CONCURRENCY || DEFAULT_CONCURRENCY);
if (!Number.isInteger(concurrency) || concurrency < 1) {
  console.error(`TEST_CONCURRENCY must be a whole number of at least 1, not ${process.env.TEST_CONCURRENCY}`);
  process.exit(1);
}

// Tests spawn the compiled entry points (test/helpers/run-cli.ts): build them once, now,
// rather than in every file that finds them stale at the same moment.
if (speeds.some((speed) => speed !== 'unit')) ensureBuilt();

// The cluster suite runs on Postgres whatever TEST_DATABASE says: no template for it.
let templateFolder;
if (env.TEST_DATABASE !== 'postgres' && speeds.some((speed) => speed !== 'unit' && speed !== 'cluster')) {
  templateFolder = mkdtempSync(path.join(os.tmpdir(), 'portcullis-template-'));
  const made = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/make-test-template.ts', templateFolder], { stdio: 'inherit' });
  if (made.status !== 0) {
    rmSync(templateFolder, { recursive: true, force: true });
    console.error('could not make the embedded test database template');
    process.exit(1);
  }
  env.TEST_EMBEDDED_TEMPLATE = path.join(templateFolder, 'pglite');
}
// A test that hangs fails after ten minutes, by name, instead of holding the run until CI's
// own limit ends it without saying where (the cluster soak may be set to run ten minutes).
const timeout = speeds.includes('cluster') ? [] : ['--test-timeout=600000'];
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...timeout, '--test-reporter=spec', ...files],
  { stdio: 'inherit', env },
);
if (templateFolder !== undefined) rmSync(templateFolder, { recursive: true, force: true });
process.exit(result.status ?? 1);
