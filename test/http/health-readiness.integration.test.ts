import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import pg from 'pg';

import { createDatabase, migrate, readMigrations, type Database } from '../../src/db/index.ts';
import { EMBEDDED_POOL_MAX, startEmbeddedDatabase, type EmbeddedDatabase } from '../../src/db/embedded-database.ts';
import { createHealth, createManagementApp, type Health } from '../../src/http/index.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { TEST_ENGINE } from '../helpers/test-database.ts';

// Readiness over the management listener, against a database that really goes away and
// comes back: the embedded server stopped and restarted on its port, or a Postgres
// database refusing connections with its sessions terminated.

interface Outage {
  readonly url: string;
  readonly poolMax: number;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

async function embeddedOutage(): Promise<Outage> {
  const dataDir = await mkdtemp(join(tmpdir(), 'portcullis-health-'));
  let embedded: EmbeddedDatabase = await startEmbeddedDatabase({ dataDir });
  const port = Number(new URL(embedded.url).port);
  return {
    url: embedded.url,
    poolMax: EMBEDDED_POOL_MAX,
    stop: () => embedded.stop(),
    async start() {
      embedded = await startEmbeddedDatabase({ dataDir, port });
    },
    async destroy() {
      await embedded.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

async function postgresOutage(): Promise<Outage> {
  const serverUrl = process.env.TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
  const name = `portcullis_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    poolMax: 4,
    async stop() {
      await admin.query(`ALTER DATABASE ${name} WITH ALLOW_CONNECTIONS false`);
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [name]);
    },
    async start() {
      await admin.query(`ALTER DATABASE ${name} WITH ALLOW_CONNECTIONS true`);
    },
    async destroy() {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}

async function serve(health: Health): Promise<{ url: string; server: Server }> {
  const handler = createManagementApp({ metrics: createMetrics({ defaultMetrics: false }), health }).callback();
  const server = createHttpServer((req, res) => void handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

async function readyz(url: string): Promise<{ status: number; body: Record<string, unknown> & { checks: Record<string, string> } }> {
  const response = await fetch(`${url}/readyz`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> & { checks: Record<string, string> } };
}

let outage: Outage;
let database: Database;
let management: { url: string; server: Server };
let health: Health;

before(async () => {
  outage = TEST_ENGINE === 'postgres' ? await postgresOutage() : await embeddedOutage();
  database = createDatabase({ url: outage.url, poolMax: outage.poolMax });
  await migrate(database.pool);
  health = createHealth({ pool: database.pool, keysLoaded: () => true, timeoutMs: 1_000 });
  management = await serve(health);
});

after(async () => {
  management?.server.close();
  await database?.close();
  await outage?.destroy();
});

describe('readiness', () => {
  test('is ready with the database answering, migrations applied and keys loaded', async () => {
    const { status, body } = await readyz(management.url);
    assert.equal(status, 200);
    assert.deepEqual(body, { status: 'ready', ready: true, checks: { database: 'ok', migrations: 'ok', keys: 'ok', shutdown: 'no' } });
  });

  test('flips to 503 while the database is down, and back to 200 when it returns', async () => {
    await outage.stop();
    try {
      const down = await readyz(management.url);
      assert.equal(down.status, 503);
      assert.equal(down.body.status, 'not_ready');
      assert.equal(down.body.checks.database, 'unreachable');
      // Liveness is about the process, not its dependencies.
      assert.equal((await fetch(`${management.url}/healthz`)).status, 200);
    } finally {
      await outage.start();
    }
    let status = 0;
    for (let attempt = 0; attempt < 50 && status !== 200; attempt++) {
      status = (await readyz(management.url)).status;
      if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(status, 200, 'ready again once the database answers');
  });

  test('answers 503 within its timeout when the database accepts connections but never answers', async () => {
    const sockets = new Set<Socket>();
    const silent = createTcpServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const hung = createDatabase({ url: `postgresql://postgres@127.0.0.1:${(silent.address() as AddressInfo).port}/x`, poolMax: 1 });
    try {
      const started = performance.now();
      const report = await createHealth({ pool: hung.pool, keysLoaded: () => true, timeoutMs: 300 }).readiness();
      assert.ok(performance.now() - started < 2_000);
      assert.equal(report.ready, false);
      assert.equal(report.checks.database, 'unreachable');
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
      await hung.close().catch(() => {});
    }
  });

  test('is not ready while a migration of this build is not applied, and names it', async () => {
    const future = { name: '29991231000000_not_yet', sql: 'SELECT 1', checksum: 'x' };
    const withPending = createHealth({ pool: database.pool, keysLoaded: () => true, migrations: [...(await readMigrations()), future] });
    const report = await withPending.readiness();
    assert.equal(report.ready, false);
    assert.equal(report.checks.migrations, 'pending');
    assert.deepEqual(report.pendingMigrations, ['29991231000000_not_yet']);
  });

  test('is not ready before the keys are loaded', async () => {
    const report = await createHealth({ pool: database.pool, keysLoaded: () => false }).readiness();
    assert.equal(report.ready, false);
    assert.equal(report.checks.keys, 'not_loaded');
    assert.equal(report.checks.database, 'ok');
  });

  test('goes false for good once shutdown begins, without asking the database', async () => {
    const unreachable = createDatabase({ url: 'postgresql://postgres@127.0.0.1:9/nothing', poolMax: 1 });
    const stopping = createHealth({ pool: unreachable.pool, keysLoaded: () => true });
    stopping.beginShutdown();
    const served = await serve(stopping);
    try {
      const { status, body } = await readyz(served.url);
      assert.equal(status, 503);
      assert.deepEqual(body.checks, { database: 'skipped', migrations: 'unknown', keys: 'ok', shutdown: 'in_progress' });
      assert.equal(unreachable.pool.totalCount, 0, 'no connection was attempted');
    } finally {
      served.server.close();
      await unreachable.close();
    }
  });

  test('shares one database round trip between concurrent checks', async () => {
    let queries = 0;
    const counting = { query: (...args: unknown[]) => ((queries += 1), (database.pool.query as (...a: unknown[]) => unknown)(...args)) };
    const shared = createHealth({ pool: counting as unknown as pg.Pool, keysLoaded: () => true, migrations: await readMigrations() });
    const reports = await Promise.all(Array.from({ length: 10 }, () => shared.readiness()));
    assert.ok(reports.every((report) => report.ready));
    assert.equal(queries, 1);
  });
});
