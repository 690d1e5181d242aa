import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { access, cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import pg from 'pg';

import { acquireDataFolderLock } from '../../src/db/data-folder-lock.ts';
import { EMBEDDED_POOL_MAX, startEmbeddedDatabase } from '../../src/db/embedded-database.ts';
import { StartupError } from '../../src/errors.ts';

const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
const holderScript = fileURLToPath(new URL('../helpers/hold-data-folder.ts', import.meta.url));

const tempDirs: string[] = [];
let template: string;

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-embedded-'));
  tempDirs.push(dir);
  return dir;
}

/** A data folder with an initialised database, copied from one made once (initdb is slow). */
async function initialisedDataDir(): Promise<string> {
  const dir = await tempDir();
  await cp(join(template, 'pglite'), join(dir, 'pglite'), { recursive: true });
  return dir;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

async function queryOnce<T extends pg.QueryResultRow>(url: string, sql: string, values?: unknown[]): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

/** A pid that belonged to a process which has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await once(child, 'exit');
  assert.ok(child.pid !== undefined);
  return child.pid;
}

function spawnHolder(args: string[]): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, ['--import', 'tsx', holderScript, ...args], { cwd: projectRoot });
}

async function collect(child: ChildProcessWithoutNullStreams): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

/** Starts the database in another process and resolves with its URL once it serves. */
async function startHolderProcess(dataDir: string): Promise<{ child: ChildProcessWithoutNullStreams; url: string }> {
  const child = spawnHolder(['database', dataDir]);
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines = createInterface({ input: child.stdout });
  for await (const line of lines) {
    if (line.startsWith('ready ')) return { child, url: line.slice('ready '.length) };
  }
  throw new Error(`the holder process exited before serving: ${stderr}`);
}

before(async () => {
  template = await tempDir();
  const database = await startEmbeddedDatabase({ dataDir: template });
  await database.stop();
});

after(async () => {
  await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

void test('a fresh folder gets a database that keeps its rows across a stop and a restart', async (t) => {
  const dataDir = join(await tempDir(), 'nested', 'data');

  let started = performance.now();
  const first = await startEmbeddedDatabase({ dataDir });
  t.diagnostic(`cold start on a fresh folder: ${Math.round(performance.now() - started)} ms`);
  assert.match(first.url, /^postgresql:\/\/postgres:postgres@127\.0\.0\.1:\d+\/postgres$/);
  assert.ok(await exists(join(dataDir, 'pglite', 'PG_VERSION')), 'PGlite files live in <dataDir>/pglite');
  assert.ok(await exists(join(dataDir, 'portcullis.lock')), 'the folder is locked while running');

  const client = new pg.Client({ connectionString: first.url });
  await client.connect();
  await client.query('CREATE TABLE note (id serial PRIMARY KEY, body text NOT NULL)');
  await client.query('INSERT INTO note (body) VALUES ($1)', ['kept across restarts']);
  const { rows } = await client.query<{ body: string }>('SELECT body FROM note');
  assert.deepEqual(rows, [{ body: 'kept across restarts' }]);
  await client.end();

  await first.stop();
  await first.stop(); // idempotent
  assert.equal(await exists(join(dataDir, 'portcullis.lock')), false, 'stop releases the lock');

  started = performance.now();
  const second = await startEmbeddedDatabase({ dataDir });
  t.diagnostic(`warm start: ${Math.round(performance.now() - started)} ms`);
  try {
    assert.deepEqual(await queryOnce(second.url, 'SELECT id, body FROM note'), [
      { id: 1, body: 'kept across restarts' },
    ]);
  } finally {
    await second.stop();
  }
});

void test('a second start on a folder in use is refused with a StartupError naming the folder, and the first keeps working', async () => {
  const dataDir = await initialisedDataDir();
  const first = await startEmbeddedDatabase({ dataDir });
  try {
    await assert.rejects(startEmbeddedDatabase({ dataDir }), (error: unknown) => {
      assert.ok(error instanceof StartupError);
      assert.equal(error.code, 'startup_failed');
      assert.ok(error.message.includes(`the data folder ${dataDir} is in use`), error.message);
      assert.ok(error.message.includes(`(pid ${process.pid})`), error.message);
      return true;
    });
    assert.deepEqual(await queryOnce(first.url, 'SELECT 1 + 1 AS two'), [{ two: 2 }]);
    assert.ok(await exists(join(dataDir, 'portcullis.lock')), 'the refused start leaves the lock alone');
  } finally {
    await first.stop();
  }
});

void test('a lock file left by a dead process is taken over', async () => {
  const dataDir = await initialisedDataDir();
  const pid = await deadPid();
  const lockPath = join(dataDir, 'portcullis.lock');
  await writeFile(lockPath, JSON.stringify({ pid, startedAt: new Date(0).toISOString(), host: 'old' }));

  const database = await startEmbeddedDatabase({ dataDir });
  try {
    const lock = JSON.parse(await readFile(lockPath, 'utf8')) as { pid: number };
    assert.equal(lock.pid, process.pid);
    assert.deepEqual(await queryOnce(database.url, 'SELECT 1 AS one'), [{ one: 1 }]);
  } finally {
    await database.stop();
  }
  assert.equal(await exists(lockPath), false);
});

void test('a lock left by an earlier process that had our pid (a restarted container) is taken over', async () => {
  const dataDir = await tempDir();
  const lockPath = join(dataDir, 'portcullis.lock');
  // Same pid, different kernel start time: not this process. Only checkable where /proc is.
  await writeFile(lockPath, JSON.stringify({ pid: process.pid, processStart: '1', host: 'old-container' }));
  const lockable = await exists(`/proc/${process.pid}/stat`);
  if (!lockable) return;
  const lock = await acquireDataFolderLock(dataDir);
  assert.equal((JSON.parse(await readFile(lockPath, 'utf8')) as { pid: number }).pid, process.pid);
  await lock.release();
});

void test('an unreadable lock file is treated as stale once it is old, not while it may be mid-write', async () => {
  const dataDir = await tempDir();
  const lockPath = join(dataDir, 'portcullis.lock');
  await writeFile(lockPath, '');
  // Fresh and empty: another process may be writing it. It must not be taken at once.
  const started = performance.now();
  const lock = await acquireDataFolderLock(dataDir);
  assert.ok(performance.now() - started >= 1_500, 'waited for the grace period before taking it');
  await lock.release();
  await lock.release(); // idempotent
  assert.equal(await exists(lockPath), false);
});

void test('two acquisitions racing for one stale lock never both win', async () => {
  const dataDir = await tempDir();
  await writeFile(join(dataDir, 'portcullis.lock'), JSON.stringify({ pid: await deadPid() }));
  const results = await Promise.allSettled([acquireDataFolderLock(dataDir), acquireDataFolderLock(dataDir)]);
  const won = results.filter((result) => result.status === 'fulfilled');
  const lost = results.filter((result) => result.status === 'rejected');
  assert.equal(won.length, 1);
  assert.equal(lost.length, 1);
  assert.ok(lost[0]?.reason instanceof StartupError);
  await won[0]?.value.release();
});

void test('separate processes racing for one stale lock: exactly one wins, the others are told the folder is in use', async () => {
  const dataDir = await tempDir();
  await writeFile(join(dataDir, 'portcullis.lock'), JSON.stringify({ pid: await deadPid() }));
  const startAt = Date.now() + 3_000; // after every process has loaded
  const outcomes = await Promise.all(
    Array.from({ length: 4 }, () => collect(spawnHolder(['lock', dataDir, String(startAt), '2000']))),
  );
  const winners = outcomes.filter((outcome) => outcome.code === 0);
  const losers = outcomes.filter((outcome) => outcome.code !== 0);
  assert.equal(winners.length, 1, JSON.stringify(outcomes));
  assert.equal(winners[0]?.stdout.trim(), 'won');
  for (const loser of losers) {
    assert.equal(loser.code, 1);
    assert.match(loser.stderr, /is in use by another Portcullis process \(pid \d+\)/);
  }
  assert.equal(await exists(join(dataDir, 'portcullis.lock')), false, 'the winner released it');
});

void test('a second Portcullis process on a folder in use fails with a clear message and a non-zero exit', async () => {
  const dataDir = await initialisedDataDir();
  const holder = await startHolderProcess(dataDir);
  try {
    const second = await collect(spawnHolder(['database', dataDir]));
    assert.equal(second.code, 1);
    assert.ok(
      second.stderr.includes(
        `the data folder ${dataDir} is in use by another Portcullis process (pid ${holder.child.pid}); ` +
          'stop it first or set DATA_DIR',
      ),
      second.stderr,
    );
    assert.deepEqual(await queryOnce(holder.url, 'SELECT 1 AS one'), [{ one: 1 }], 'the first keeps serving');
  } finally {
    holder.child.kill('SIGTERM');
    await once(holder.child, 'exit');
  }
  assert.equal(await exists(join(dataDir, 'portcullis.lock')), false, 'a clean stop releases the lock');
});

void test('after a holder is killed with SIGKILL the next start takes the folder over with its data intact', async () => {
  const dataDir = await initialisedDataDir();
  const holder = await startHolderProcess(dataDir);
  const exited = once(holder.child, 'exit');
  try {
    await queryOnce(holder.url, 'CREATE TABLE survivor (name text)');
    await queryOnce(holder.url, 'INSERT INTO survivor VALUES ($1)', ['still here']);
  } finally {
    holder.child.kill('SIGKILL');
    await exited;
  }
  assert.ok(await exists(join(dataDir, 'portcullis.lock')), 'SIGKILL leaves the lock behind');

  const database = await startEmbeddedDatabase({ dataDir });
  try {
    assert.deepEqual(await queryOnce(database.url, 'SELECT name FROM survivor'), [{ name: 'still here' }]);
  } finally {
    await database.stop();
  }
});

void test('a second connection waits for the first to close instead of being refused', async () => {
  const database = await startEmbeddedDatabase({ dataDir: await initialisedDataDir() });
  try {
    const first = new pg.Client({ connectionString: database.url });
    await first.connect();
    const second = new pg.Client({ connectionString: database.url });
    let secondConnected = false;
    const secondReady = second.connect().then(() => (secondConnected = true));
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(secondConnected, false, 'queued while the first is open');
    assert.deepEqual((await first.query('SELECT 1 AS one')).rows, [{ one: 1 }]);
    await first.end();
    await secondReady;
    assert.deepEqual((await second.query('SELECT 2 AS two')).rows, [{ two: 2 }]);
    await second.end();
  } finally {
    await database.stop();
  }
});

void test('a connection that waits longer than connectionWaitMs is refused with SQLSTATE 53300 and a reason', async () => {
  const database = await startEmbeddedDatabase({ dataDir: await initialisedDataDir(), connectionWaitMs: 300 });
  try {
    const first = new pg.Client({ connectionString: database.url });
    await first.connect();
    const second = new pg.Client({ connectionString: database.url });
    await assert.rejects(second.connect(), (error: unknown) => {
      assert.equal((error as { code?: string }).code, '53300');
      assert.match((error as Error).message, /one connection at a time/);
      return true;
    });
    assert.deepEqual((await first.query('SELECT 1 AS one')).rows, [{ one: 1 }], 'the first is unaffected');
    await first.end();
  } finally {
    await database.stop();
  }
});

void test('a pool of EMBEDDED_POOL_MAX reconnects reliably after connections are cut or idle out', async () => {
  const database = await startEmbeddedDatabase({ dataDir: await initialisedDataDir() });
  try {
    // A client whose socket dies (what a pool does with a broken connection), reconnecting at once.
    for (let i = 0; i < 50; i += 1) {
      const client = new pg.Client({ connectionString: database.url });
      client.on('error', () => undefined);
      await client.connect();
      await client.query('SELECT 1');
      (client as unknown as { connection: { stream: Socket } }).connection.stream.destroy();
    }
    const pool = new pg.Pool({ connectionString: database.url, max: EMBEDDED_POOL_MAX, idleTimeoutMillis: 1 });
    try {
      for (let i = 0; i < 50; i += 1) {
        await pool.query('SELECT 1');
        await new Promise((resolve) => setTimeout(resolve, 3)); // let the idle connection close
      }
      const parallel = await Promise.all(
        Array.from({ length: 50 }, (_, i) => pool.query<{ i: number }>('SELECT $1::int AS i', [i])),
      );
      assert.deepEqual(
        parallel.map((result) => result.rows[0]?.i),
        Array.from({ length: 50 }, (_, i) => i),
      );
    } finally {
      await pool.end();
    }
  } finally {
    await database.stop();
  }
});

void test('stop rolls back an open transaction of a connected client and still releases the folder', async () => {
  const dataDir = await initialisedDataDir();
  const database = await startEmbeddedDatabase({ dataDir });
  const client = new pg.Client({ connectionString: database.url });
  client.on('error', () => undefined);
  await client.connect();
  await client.query('CREATE TABLE ledger (n int)');
  await client.query('BEGIN');
  await client.query('INSERT INTO ledger VALUES (1)');
  await database.stop();
  await client.end().catch(() => undefined);
  assert.equal(await exists(join(dataDir, 'portcullis.lock')), false);

  const again = await startEmbeddedDatabase({ dataDir });
  try {
    assert.deepEqual(await queryOnce(again.url, 'SELECT count(*)::int AS n FROM ledger'), [{ n: 0 }]);
  } finally {
    await again.stop();
  }
});

void test('an explicit port that is taken fails with a StartupError and leaves the folder unlocked', async () => {
  const dataDir = await initialisedDataDir();
  const first = await startEmbeddedDatabase({ dataDir: await initialisedDataDir() });
  const port = Number(new URL(first.url).port);
  try {
    await assert.rejects(startEmbeddedDatabase({ dataDir, port }), (error: unknown) => {
      assert.ok(error instanceof StartupError);
      assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
      return true;
    });
    assert.equal(await exists(join(dataDir, 'portcullis.lock')), false);
  } finally {
    await first.stop();
  }
});
