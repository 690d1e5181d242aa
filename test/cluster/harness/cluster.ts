import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';

import pg from 'pg';

import { openRuntime } from '../../../src/boot.ts';
import { loadConfig } from '../../../src/config/index.ts';
import { createLogger } from '../../../src/observability/logger.ts';
import { PROJECT_ROOT } from '../../helpers/run-cli.ts';
import { freePort, temporaryFolder } from '../../helpers/run-entry.ts';
import { seed, type Declared, type TestDeclaration } from '../../helpers/test-server.ts';
import { Instance } from './instance.ts';
import { INSTANCE_HEADER, reserveNginxPort, startNginx, type Nginx } from './nginx.ts';
import { startRedisServer, type RedisServer } from './redis-server.ts';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.ts';

// A deployment of several Portcullis processes on one machine, as issue 13 describes it:
// N real server processes (the compiled server, as `npm start` runs it) on one Postgres
// database and one Redis, behind Debian's nginx on loopback, with TRUST_PROXY and the
// issuer on nginx's address. Every part is real; the test owns each so it can break it:
//
// - Postgres: a fresh database on the machine's server (127.0.0.1:5432, or
//   TEST_POSTGRES_URL), made here and dropped at close, reached by the instances through a
//   TCP proxy the test can cut (`cluster.postgres.cut()`: a restart as clients see it) or
//   stop (`stop()` ... `start()`: the database down for a while). The shared server itself
//   is never stopped. The test's own queries go straight to the database (`cluster.sql`).
// - Redis: a redis-server of the cluster's own on a spare port (`cluster.redis.stop()`,
//   `start()`).
// - nginx: see nginx.ts (round robin; `X-Cluster-Instance` pins a request to one).
//
// Fault scenarios still to come here once the `faults` branch (503 + Retry-After during a
// database outage, the Redis fallback of the throttle, the SIGTERM drain delay) lands, as
// test/cluster/faults.cluster.test.ts on this harness:
// - Postgres restarted: `postgres.cut()` under load; readiness false, 503 + Retry-After,
//   one log line per outage, every instance recovers, every refresh chain still refreshes.
// - Postgres stopped 10 s: `postgres.stop()`, sleep 10 s, `postgres.start()`; same checks.
// - Redis down: `redis.stop()`; the credential throttle still counts (per instance), a new
//   instance (`instances[i].stop('SIGKILL')`, `start()`) starts anyway; `redis.start()`
//   and it reconnects.
// - SIGTERM under load: `instances[i].stop('SIGTERM')` while requests are in flight;
//   readiness false first, the port still serves for the drain delay, exit code 0.

export interface ClusterOptions {
  /** Number of instances (default 2). */
  readonly instances?: number;
  /** Settings for every instance, over the cluster's own. */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * Clients, resource servers and users to seed (through the import path, in this
   * process) before the instances start. Without it the instances start on an empty
   * database, all at once: migrations and keys are theirs to make.
   */
  readonly declare?: TestDeclaration | ((issuer: string) => TestDeclaration);
}

export interface Cluster {
  /** nginx's address: the issuer. */
  readonly url: string;
  readonly instances: readonly Instance[];
  readonly postgres: TcpProxy;
  readonly redis: RedisServer;
  readonly declared: Declared;
  /** The instances' settings (each adds its own PORT and MANAGEMENT_PORT). */
  readonly env: Readonly<Record<string, string>>;
  /** A query straight to the cluster's database (not through the cuttable proxy). */
  sql<Row extends pg.QueryResultRow = Record<string, unknown>>(text: string, values?: unknown[]): Promise<Row[]>;
  /** fetch through nginx; `instance` pins the request to one instance. */
  fetch(pathOrUrl: string, init?: RequestInit & { instance?: number }): Promise<Response>;
  /** The last lines of every instance's output, for a failing test's message. */
  logs(lines?: number): string;
  close(): Promise<void>;
}

const POSTGRES_URL = process.env.TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

/** Limits a load test would otherwise hit from its one address; tests that test a budget set their own. */
const GENEROUS_LIMITS = {
  RATE_LIMIT_IP: '1000000/1m',
  RATE_LIMIT_CLIENT: '1000000/1m',
  RATE_LIMIT_ACCOUNT: '1000000/1m',
  RATE_LIMIT_TOKEN: '1000000/1m',
  RATE_LIMIT_INTROSPECTION: '1000000/1m',
  RATE_LIMIT_REVOCATION: '1000000/1m',
};

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  // Built once here: two instances starting at once must not both compile dist/.
  execFileSync(process.execPath, [path.join(PROJECT_ROOT, 'scripts/ensure-built.mjs')], { stdio: 'inherit' });
  const dir = await temporaryFolder('cluster');
  const cleanups: (() => Promise<unknown>)[] = [() => rm(dir, { recursive: true, force: true })];
  const cleanup = async () => {
    for (const step of cleanups.reverse()) await step().catch(() => {});
  };
  try {
    const name = `portcullis_cluster_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    cleanups.push(async () => {
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    });
    const serverUrl = new URL(POSTGRES_URL);
    const direct = new URL(POSTGRES_URL);
    direct.pathname = `/${name}`;
    const pool = new pg.Pool({ connectionString: direct.toString(), max: 3 });
    cleanups.push(() => pool.end());

    const postgres = await startTcpProxy({ host: serverUrl.hostname, port: Number(serverUrl.port || 5432) });
    cleanups.push(() => postgres.close());
    const viaProxy = new URL(direct);
    viaProxy.host = `127.0.0.1:${postgres.port}`;

    const redis = await startRedisServer(dir);
    cleanups.push(() => redis.close());

    const nginxPort = await reserveNginxPort();
    const url = `http://127.0.0.1:${nginxPort}`;
    const env: Record<string, string> = {
      NODE_ENV: 'production',
      ISSUER: url,
      HOST: '127.0.0.1',
      MANAGEMENT_HOST: '127.0.0.1',
      DATABASE_URL: viaProxy.toString(),
      DATABASE_POOL_MAX: '10',
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: 'cluster:',
      MASTER_SECRET: randomBytes(48).toString('base64'),
      TRUST_PROXY: 'true',
      LOG_LEVEL: 'warn',
      LOG_FORMAT: 'json',
      SHUTDOWN_TIMEOUT: '5',
      ...GENEROUS_LIMITS,
      ...options.env,
    };

    let declared: Declared = emptyDeclared();
    if (options.declare) {
      const config = loadConfig({ ...env, PORT: '0', MANAGEMENT_PORT: '0', DATA_DIR: path.join(dir, 'seed') });
      const runtime = await openRuntime(config, createLogger({ level: 'silent' }));
      try {
        declared = await seed(runtime.services, typeof options.declare === 'function' ? options.declare(url) : options.declare);
      } finally {
        await runtime.close();
      }
    }

    const instances: Instance[] = [];
    for (let index = 0; index < (options.instances ?? 2); index++) {
      const cwd = path.join(dir, `instance-${index}`);
      await mkdir(cwd, { recursive: true });
      instances.push(new Instance({ name: `instance ${index}`, cwd, port: await freePort(), managementPort: await freePort(), env: { ...env, DATA_DIR: path.join(cwd, 'data') } }));
    }
    cleanups.push(() => Promise.all(instances.map((instance) => stopOrKill(instance))));
    // All at once, as an orchestrator starts a deployment.
    await Promise.all(instances.map((instance) => instance.start()));

    const nginx: Nginx = await startNginx({ dir, port: nginxPort, upstreams: instances.map((instance) => instance.port) });
    cleanups.push(() => nginx.close());

    return {
      url,
      instances,
      postgres,
      redis,
      declared,
      env,
      async sql<Row extends pg.QueryResultRow>(text: string, values?: unknown[]) {
        return (await pool.query<Row>(text, values)).rows;
      },
      fetch(pathOrUrl, init = {}) {
        const { instance, ...rest } = init;
        const headers = new Headers(rest.headers);
        if (instance !== undefined) headers.set(INSTANCE_HEADER, String(instance));
        return fetch(new URL(pathOrUrl, url), { ...rest, headers });
      },
      logs(lines = 40) {
        return instances.map((instance) => `--- ${instance.name}\n${instance.output().split('\n').slice(-lines).join('\n')}`).join('\n');
      },
      close: cleanup,
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

function emptyDeclared(): Declared {
  const none = (what: string) => (key: string) => {
    throw new Error(`nothing declared gives ${what} for ${key}`);
  };
  return { clientSecret: none('a client secret'), accountId: none('an account id') };
}

async function stopOrKill(instance: Instance): Promise<void> {
  const timer = setTimeout(() => void instance.stop('SIGKILL'), 10_000);
  await instance.stop('SIGTERM');
  clearTimeout(timer);
}
