// The embedded database: a PGlite (Postgres compiled to WASM) data folder served over the
// Postgres wire protocol on 127.0.0.1, so `npm start` runs with no DATABASE_URL and every
// client (`pg`, Prisma's adapter-pg, the migration runner) connects unchanged.
//
// Promises:
// - The data lives in `<dataDir>/pglite`; the folder is locked for this process
//   (`<dataDir>/portcullis.lock`, see data-folder-lock.ts) before PGlite opens it.
// - `stop()` closes the listener, then PGlite (which writes a shutdown checkpoint and
//   flushes), then releases the lock; the next start finds the data intact. It is
//   idempotent. Close your pool / PrismaClient first: open connections are cut.
//
// One connection at a time. PGlite is a single Postgres backend; pglite-socket's
// multiplexer corrupts sessions with more than one connection, so its server runs with
// `maxConnections: 1`. Measured with pglite-socket 0.2.17 and Node 20:
// - Its server alone REFUSES a second connection while one is open: Node's
//   `server.maxConnections` drops the socket at once and the client sees "Connection
//   terminated unexpectedly"; the first connection keeps working.
// - It also refuses the next connection for a moment after one closes, because the slot
//   is freed asynchronously: after an abrupt close (a pool discarding a broken client)
//   every immediate reconnect failed, and a pool of max 1 reconnecting after idle timeouts
//   failed about 1 time in 200.
// So clients connect through a small gate in front of it that QUEUES connections: each
// waits until the previous one is fully released by the server, then is piped through.
// One still waiting after `connectionWaitMs` (default 5 s) is refused with a proper
// Postgres error (SQLSTATE 53300, too_many_connections) naming the cause, instead of a
// bare hang-up or an endless wait.
//
// Credentials and database name: PGlite runs a single-user backend that ignores the user,
// database and password of the startup packet (any are accepted, no authentication is
// asked) and always runs as user `postgres` in database `postgres`. The URL says so.
// Hence: no authentication at all. Both listeners (the gate and, on a second port nobody
// is told, pglite-socket's own) bind 127.0.0.1 only; any local process can still connect,
// so the embedded database is for single-user machines and containers.

import { access, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

import { StartupError } from '../errors.ts';
import { acquireDataFolderLock } from './data-folder-lock.ts';

/**
 * The largest connection pool a client of the embedded database may use. Give `pg.Pool`
 * / adapter-pg `max: EMBEDDED_POOL_MAX`: PGlite runs one query at a time anyway, and
 * more connections only queue at the gate (and fail after `connectionWaitMs`).
 */
export const EMBEDDED_POOL_MAX = 1;

const HOST = '127.0.0.1';
const DEFAULT_CONNECTION_WAIT_MS = 5_000;
const SLOT_POLL_MS = 2;
const REFUSED_LINGER_MS = 1_000;

export interface EmbeddedDatabase {
  /**
   * `postgresql://postgres:postgres@127.0.0.1:<port>/postgres`. Use it with a pool of at
   * most {@link EMBEDDED_POOL_MAX} connection.
   */
  readonly url: string;
  /** Cuts open connections, closes PGlite cleanly and releases the folder. Idempotent. */
  stop(): Promise<void>;
}

export interface EmbeddedDatabaseOptions {
  /** Portcullis' data folder; created if missing. PGlite's files go in `<dataDir>/pglite`. */
  dataDir: string;
  /** TCP port on 127.0.0.1; 0 (the default) picks a free one. */
  port?: number;
  /** How long a connection may wait for the single slot before it is refused (ms). */
  connectionWaitMs?: number;
}

const ADDRESS_FILE_NAME = 'embedded-database.json';

/**
 * The URL of the embedded database a live Portcullis process is serving from this data
 * folder, if any. The CLI uses it to work alongside a running server: the folder is
 * locked to that process, but its one connection is shared through the gate.
 */
export async function findRunningEmbeddedDatabase(dataDir: string): Promise<string | undefined> {
  let address: { pid?: unknown; url?: unknown };
  try {
    address = JSON.parse(await readFile(join(dataDir, ADDRESS_FILE_NAME), 'utf8')) as typeof address;
  } catch {
    return undefined;
  }
  if (typeof address.pid !== 'number' || typeof address.url !== 'string' || address.pid === process.pid) return undefined;
  try {
    process.kill(address.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return undefined; // stale: the server is gone
  }
  return address.url;
}

/** Whether `dataDir` holds an embedded database already (PGlite writes PG_VERSION first). */
export async function hasEmbeddedDatabase(dataDir: string): Promise<boolean> {
  return access(join(resolve(dataDir), 'pglite', 'PG_VERSION')).then(
    () => true,
    () => false,
  );
}

export async function startEmbeddedDatabase(options: EmbeddedDatabaseOptions): Promise<EmbeddedDatabase> {
  const { dataDir } = options;
  const pgliteDir = join(resolve(dataDir), 'pglite');
  await mkdir(dataDir, { recursive: true }).catch((error: unknown) => {
    throw new StartupError(`DATA_DIR: cannot create ${dataDir} (${errorCode(error)}); make its parent writable or set DATA_DIR`, {
      cause: error,
    });
  });

  const lock = await acquireDataFolderLock(dataDir);
  let db: PGlite | undefined;
  let socketServer: PGLiteSocketServer | undefined;
  let gate: ConnectionGate | undefined;
  try {
    db = await PGlite.create({ dataDir: pgliteDir }).catch((error: unknown) => {
      throw new StartupError(`could not open the embedded database in ${pgliteDir}: ${errorMessage(error)}`, {
        cause: error,
      });
    });
    // The server listens on its own free port; clients reach it only through the gate.
    socketServer = new PGLiteSocketServer({ db, host: HOST, port: 0, maxConnections: 1 });
    await socketServer.start();
    const server = socketServer;
    gate = new ConnectionGate({
      backendPort: portOf(server.getServerConn()),
      isBackendFree: () => server.getStats().activeConnections === 0,
      waitMs: options.connectionWaitMs ?? DEFAULT_CONNECTION_WAIT_MS,
    });
    const port = await gate.listen(options.port ?? 0).catch((error: unknown) => {
      throw new StartupError(
        `the embedded database could not listen on ${HOST}:${options.port ?? 0}: ${errorMessage(error)}`,
        { cause: error },
      );
    });

    const opened = { db, socketServer, gate };
    const url = `postgresql://postgres:postgres@${HOST}:${port}/postgres`;
    // Tells the CLI where the running server serves the folder (it cannot open it itself).
    const addressFile = join(dataDir, ADDRESS_FILE_NAME);
    await writeFile(addressFile, JSON.stringify({ pid: process.pid, url }), { mode: 0o600 });
    let stopped: Promise<void> | undefined;
    return {
      url,
      stop() {
        stopped ??= rm(addressFile, { force: true }).then(() => shutDown(opened, lock));
        return stopped;
      },
    };
  } catch (error) {
    await shutDown({ db, socketServer, gate }, lock).catch(() => undefined);
    throw error;
  }
}

async function shutDown(
  parts: { db: PGlite | undefined; socketServer: PGLiteSocketServer | undefined; gate: ConnectionGate | undefined },
  lock: { release(): Promise<void> },
): Promise<void> {
  try {
    await parts.gate?.close();
    // Detaches the connection (rolling back an open transaction) and stops listening.
    await parts.socketServer?.stop();
    // Waits for running queries, then shuts Postgres down (checkpoint) and closes files.
    if (parts.db !== undefined && !parts.db.closed) await parts.db.close();
  } finally {
    await lock.release();
  }
}

function portOf(serverConn: string): number {
  const port = Number(serverConn.slice(serverConn.lastIndexOf(':') + 1));
  if (!Number.isInteger(port) || port <= 0) throw new Error(`unexpected pglite-socket address ${serverConn}`);
  return port;
}

interface Waiting {
  socket: Socket;
  timer: NodeJS.Timeout;
}

/**
 * A TCP listener that lets one client at a time through to the PGlite socket server and
 * queues the others (see the top of this file for why).
 */
class ConnectionGate {
  private readonly server: Server;
  private readonly waiting: Waiting[] = [];
  private active: { client: Socket; backend: Socket } | undefined;
  private polling = false;
  private closing = false;

  constructor(
    private readonly options: { backendPort: number; isBackendFree: () => boolean; waitMs: number },
  ) {
    this.server = createServer({ noDelay: true }, (socket) => this.admit(socket));
  }

  async listen(port: number): Promise<number> {
    await new Promise<void>((resolvePromise, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, HOST, () => {
        this.server.off('error', reject);
        resolvePromise();
      });
    });
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    this.closing = true;
    const wasListening = this.server.listening;
    // Resolves once every accepted socket has closed, including refused ones.
    const closed = new Promise<void>((resolvePromise) => this.server.close(() => resolvePromise()));
    for (const { socket, timer } of this.waiting.splice(0)) {
      clearTimeout(timer);
      refuse(socket, '57P01', 'the embedded database is shutting down');
    }
    this.active?.client.destroy();
    this.active?.backend.destroy();
    if (wasListening) await closed;
  }

  private admit(socket: Socket): void {
    socket.on('error', () => socket.destroy());
    if (this.closing) {
      refuse(socket, '57P01', 'the embedded database is shutting down');
      return;
    }
    // The socket stays paused (no reader) while it waits: its startup packet is kept.
    const entry: Waiting = {
      socket,
      timer: setTimeout(() => {
        this.dequeue(entry);
        refuse(
          socket,
          '53300',
          'the embedded database serves one connection at a time and it stayed busy for ' +
            `${this.options.waitMs} ms; use a pool of at most ${EMBEDDED_POOL_MAX} connection ` +
            'and close other clients (or set DATABASE_URL to a Postgres server)',
        );
      }, this.options.waitMs),
    };
    this.waiting.push(entry);
    socket.once('close', () => this.dequeue(entry));
    this.pump();
  }

  private dequeue(entry: Waiting): void {
    clearTimeout(entry.timer);
    const index = this.waiting.indexOf(entry);
    if (index !== -1) this.waiting.splice(index, 1);
  }

  /** Lets the next waiting client through once the server has fully released the slot. */
  private pump(): void {
    if (this.active !== undefined || this.polling || this.closing || this.waiting.length === 0) return;
    if (!this.options.isBackendFree()) {
      this.polling = true;
      void sleep(SLOT_POLL_MS).then(() => {
        this.polling = false;
        this.pump();
      });
      return;
    }
    const next = this.waiting.shift();
    if (next === undefined) return;
    clearTimeout(next.timer);
    this.pipe(next.socket);
  }

  private pipe(client: Socket): void {
    const backend = connect({ host: HOST, port: this.options.backendPort, noDelay: true });
    const pair = { client, backend };
    this.active = pair;
    let open = 2;
    const onClose = () => {
      // Either side ending ends the session: never leave half a pair holding the slot.
      client.destroy();
      backend.destroy();
      open -= 1;
      if (open === 0 && this.active === pair) {
        this.active = undefined;
        this.pump();
      }
    };
    backend.on('error', () => backend.destroy());
    client.once('close', onClose);
    backend.once('close', onClose);
    client.pipe(backend);
    backend.pipe(client);
  }
}

/** Sends a FATAL ErrorResponse (what a Postgres server sends at startup) and hangs up. */
function refuse(socket: Socket, sqlState: string, message: string): void {
  const fields = Buffer.concat([
    field('S', 'FATAL'),
    field('V', 'FATAL'),
    field('C', sqlState),
    field('M', message),
    Buffer.from([0]),
  ]);
  const header = Buffer.alloc(5);
  header.write('E', 0, 'latin1');
  header.writeInt32BE(fields.length + 4, 1);
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  // Read and drop what the client sent: closing with unread input would reset the
  // connection and the client could lose the error before reading it.
  socket.resume();
  socket.end(Buffer.concat([header, fields]));
  // A client that never hangs up must not keep the listener (and stop()) waiting.
  setTimeout(() => socket.destroy(), REFUSED_LINGER_MS).unref();
}

function field(code: string, value: string): Buffer {
  return Buffer.concat([Buffer.from(code, 'latin1'), Buffer.from(value, 'utf8'), Buffer.from([0])]);
}

function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? errorMessage(error);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
