import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, test } from 'node:test';

import { Redis } from 'ioredis';
import pg from 'pg';

import { temporaryFolder } from '../helpers/run-entry.ts';
import { startRedisServer, type RedisServer } from './harness/redis-server.ts';
import { startTcpProxy, type TcpProxy } from './harness/tcp-proxy.ts';

// The harness' fault switches do what the fault scenarios will rely on (see the comment
// in harness/cluster.ts): the Postgres proxy cuts open connections, refuses new ones while
// stopped and serves again on the same port; the cluster's Redis stops and starts on its
// port. Checked with plain clients, without the servers.

const POSTGRES_URL = new URL(process.env.TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres');
let proxy: TcpProxy;
let redis: RedisServer;
let dir: string;

before(async () => {
  dir = await temporaryFolder('fault-switches');
  proxy = await startTcpProxy({ host: POSTGRES_URL.hostname, port: Number(POSTGRES_URL.port || 5432) });
  redis = await startRedisServer(dir);
});

after(async () => {
  await proxy?.close();
  await redis?.close();
  rmSync(dir, { recursive: true, force: true });
});

const viaProxy = () => {
  const url = new URL(POSTGRES_URL);
  url.host = `127.0.0.1:${proxy.port}`;
  return new pg.Client({ connectionString: url.toString(), connectionTimeoutMillis: 2_000 });
};

test('the Postgres proxy cuts open connections, refuses while stopped, and serves again on the same port', async () => {
  const open = viaProxy();
  await open.connect();
  assert.equal((await open.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one, 1);
  const errors: Error[] = [];
  open.on('error', (error) => errors.push(error));
  proxy.cut();
  await assert.rejects(open.query('SELECT 1'), /terminated|ECONNRESET/);

  const port = proxy.port;
  await proxy.stop();
  await assert.rejects(viaProxy().connect(), /ECONNREFUSED/);
  await proxy.start();
  assert.equal(proxy.port, port);
  const again = viaProxy();
  await again.connect();
  assert.equal((await again.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one, 1);
  await again.end();
});

test("the cluster's Redis stops and starts on its port", async () => {
  const client = () => {
    const connection = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    connection.on('error', () => {});
    return connection;
  };
  const first = client();
  await first.connect();
  assert.equal(await first.ping(), 'PONG');
  first.disconnect();
  await redis.stop();
  const refused = client();
  await assert.rejects(refused.connect());
  refused.disconnect();
  await redis.start();
  const second = client();
  await second.connect();
  assert.equal(await second.ping(), 'PONG');
  second.disconnect();
});
