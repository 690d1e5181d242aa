import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';

import { createDatabase, type Database } from '../../src/db/index.ts';
import { startEmbeddedDatabase } from '../../src/db/embedded-database.ts';
import { PROJECT_ROOT, SERVER_ENTRY } from '../helpers/run-cli.ts';
import { createTestDatabase, TEST_ENGINE, type TestDatabase } from '../helpers/test-database.ts';

// The real server process (`npm start`) on SIGTERM: readiness goes false at once, the
// request in flight finishes, the audit trail is written, then the process exits 0. A
// request still running at SHUTDOWN_TIMEOUT is cut off instead of holding the exit.

const cleanups: (() => Promise<void>)[] = [];

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface Started {
  readonly child: ChildProcessWithoutNullStreams;
  readonly port: number;
  readonly management: string;
  output(): string;
  exited: Promise<number | null>;
  /** Opens the database the server used (after it exited). */
  openDatabase(): Promise<Database & { done(): Promise<void> }>;
}

async function startServer(env: Record<string, string> = {}): Promise<Started> {
  const [port, managementPort] = [await freePort(), await freePort()];
  const dataDir = await mkdtemp(join(tmpdir(), 'portcullis-shutdown-'));
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
  let database: TestDatabase | undefined;
  if (TEST_ENGINE === 'postgres') {
    const created = await createTestDatabase();
    database = created;
    cleanups.push(() => created.destroy());
  }
  const child = spawn(process.execPath, [SERVER_ENTRY], {
    cwd: PROJECT_ROOT,
    env: {
      ...process.env,
      NODE_ENV: 'test',
      PORT: String(port),
      HOST: '127.0.0.1',
      MANAGEMENT_PORT: String(managementPort),
      MANAGEMENT_HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      DATABASE_URL: database?.url ?? '',
      MASTER_SECRET: 'shutdown-test-master-secret-of-32-characters-plus',
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'info',
      ...env,
    },
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  cleanups.push(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
  });
  const management = `http://127.0.0.1:${managementPort}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    const status = await fetch(`${management}/readyz`).then(
      (response) => response.status,
      () => 0,
    );
    if (status === 200) break;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the server did not become ready:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return {
    child,
    port,
    management,
    output: () => output,
    exited,
    async openDatabase() {
      if (database) {
        const opened = createDatabase({ url: database.url, poolMax: 1 });
        return Object.assign(opened, { done: () => opened.close() });
      }
      const embedded = await startEmbeddedDatabase({ dataDir });
      const opened = createDatabase({ url: embedded.url, poolMax: 1 });
      return Object.assign(opened, {
        async done() {
          await opened.close();
          await embedded.stop();
        },
      });
    },
  };
}

/** A token request whose body is still on its way: the server is busy with it. */
async function requestInFlight(port: number): Promise<{ socket: Socket; finish(): Promise<string> }> {
  const body = 'grant_type=client_credentials&scope=openid';
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  let response = '';
  socket.on('data', (chunk: Buffer) => (response += chunk.toString()));
  socket.write(
    `POST /token HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`,
  );
  await new Promise((resolve) => setTimeout(resolve, 300));
  return {
    socket,
    async finish() {
      socket.write(body.slice(10));
      await new Promise<void>((resolve) => socket.once('close', resolve));
      return response;
    },
  };
}

async function readyz(management: string): Promise<{ status: number; body: { checks?: Record<string, string> } }> {
  const response = await fetch(`${management}/readyz`);
  return { status: response.status, body: (await response.json()) as { checks?: Record<string, string> } };
}

describe('graceful shutdown of the server process', () => {
  test('on SIGTERM readiness goes false first, the request in flight completes, the audit trail is written, and it exits 0', async () => {
    const server = await startServer();
    assert.equal((await fetch(`${server.management}/healthz`)).status, 200);
    assert.equal((await fetch(`${server.management}/metrics`)).status, 200);
    const inFlight = await requestInFlight(server.port);

    server.child.kill('SIGTERM');
    let down = await readyz(server.management);
    for (let attempt = 0; attempt < 20 && down.status !== 503; attempt++) down = await readyz(server.management);
    assert.equal(down.status, 503);
    assert.equal(down.body.checks?.shutdown, 'in_progress');
    assert.equal((await fetch(`${server.management}/healthz`)).status, 200, 'still alive while draining');
    await assert.rejects(fetch(`http://127.0.0.1:${server.port}/.well-known/openid-configuration`), 'no new connections are accepted');

    const response = await inFlight.finish();
    assert.match(response, /^HTTP\/1\.1 4\d\d /, 'the request in flight got its answer');
    assert.equal(await server.exited, 0);
    const output = server.output();
    assert.match(output, /"msg":"shutting down"/);
    assert.match(output, /"route":"token","path":"\/token","status":4\d\d/);
    assert.match(output, /"msg":"stopped"/);
    assert.doesNotMatch(output, /cut off/);

    // The keys created at boot were recorded, and the buffer was written before the pool closed.
    const database = await server.openDatabase();
    try {
      assert.equal(await database.prisma.auditEvent.count({ where: { type: 'key.created' } }), 3);
    } finally {
      await database.done();
    }
  });

  test('with SHUTDOWN_DRAIN_SECONDS readiness is false at once while the public port still serves; then it closes, the request in flight completes and it exits 0', async () => {
    const server = await startServer({ SHUTDOWN_DRAIN_SECONDS: '3' });
    const discovery = `http://127.0.0.1:${server.port}/.well-known/openid-configuration`;
    const inFlight = await requestInFlight(server.port);
    const signalled = Date.now();
    server.child.kill('SIGTERM');
    let down = await readyz(server.management);
    for (let attempt = 0; attempt < 20 && down.status !== 503; attempt++) down = await readyz(server.management);
    assert.equal(down.status, 503);
    assert.equal(down.body.checks?.shutdown, 'in_progress');
    // A new connection during the drain is served: a load balancer still sending is not refused.
    const served = await fetch(discovery, { headers: { connection: 'close' } });
    assert.equal(served.status, 200);
    await served.arrayBuffer();
    assert.equal(server.child.exitCode, null, 'still running during the drain');
    // Then the port stops accepting (polled: the drain ends about 3 s after the signal).
    let refused = false;
    while (!refused && Date.now() - signalled < 15_000) {
      refused = await fetch(discovery, { headers: { connection: 'close' } }).then(
        async (response) => {
          await response.arrayBuffer();
          return false;
        },
        () => true,
      );
      if (!refused) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(refused, 'the port closed after the drain');
    assert.ok(Date.now() - signalled >= 2_500, 'not before the drain delay');
    const response = await inFlight.finish();
    assert.match(response, /^HTTP\/1\.1 4\d\d /, 'the request in flight got its answer');
    assert.equal(await server.exited, 0);
    assert.match(server.output(), /"drainSeconds":3,"msg":"shutting down"/);
    assert.doesNotMatch(server.output(), /cut off/);
  });

  test('a request still running at SHUTDOWN_TIMEOUT is cut off and the process still exits', async () => {
    const server = await startServer({ SHUTDOWN_TIMEOUT: '1' });
    const inFlight = await requestInFlight(server.port);
    const closed = new Promise<void>((resolve) => inFlight.socket.once('close', resolve));
    const started = Date.now();
    server.child.kill('SIGTERM');
    await closed;
    assert.equal(await server.exited, 0);
    assert.ok(Date.now() - started < 10_000, 'exited soon after the timeout');
    assert.match(server.output(), /requests still running at the shutdown timeout were cut off/);
  });
});
