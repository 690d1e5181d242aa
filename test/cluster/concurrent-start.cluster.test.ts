import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { PROJECT_ROOT } from '../helpers/run-cli.ts';
import { startCluster, type Cluster } from './harness/cluster.ts';

// Three instances started at the same moment on an empty database (the harness seeds
// nothing without a declaration and starts every instance at once, as an orchestrator
// rolling out a new deployment does): the migrations run once, the keys are made once, and
// every instance serves the same keys. Three rather than two, for more chances to collide.

const MIGRATIONS = readdirSync(path.join(PROJECT_ROOT, 'prisma/migrations'), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

let cluster: Cluster;

before(async () => {
  cluster = await startCluster({ instances: 3 });
});

after(async () => {
  await cluster?.close();
});

test('every migration is applied exactly once, and finished', async () => {
  const rows = await cluster.sql<{ migration_name: string; finished_at: Date | null; rolled_back_at: Date | null }>(
    'SELECT migration_name, finished_at, rolled_back_at FROM _prisma_migrations ORDER BY migration_name',
  );
  assert.deepEqual(
    rows.map((row) => row.migration_name),
    MIGRATIONS,
  );
  for (const row of rows) {
    assert.ok(row.finished_at, `${row.migration_name} finished`);
    assert.equal(row.rolled_back_at, null);
  }
});

test('the signing and cookie keys are made once, and every instance publishes the same JWKS', async () => {
  const keys = await cluster.sql<{ kid: string; alg: string; status: string }>('SELECT kid, alg, status FROM signing_keys');
  const active = keys.filter((key) => key.status === 'active');
  assert.equal(new Set(active.map((key) => key.alg)).size, active.length, 'one active key per algorithm');
  assert.deepEqual(active.map((key) => key.alg).sort(), ['ES256', 'RS256']);
  const [cookieKeys] = await cluster.sql<{ count: string }>('SELECT count(*) FROM cookie_keys');
  assert.equal(Number(cookieKeys?.count), 1, 'one cookie key');

  const published = await Promise.all(
    cluster.instances.map(async (_, instance) => (await (await cluster.fetch('/jwks', { instance })).json()) as { keys: { kid: string }[] }),
  );
  for (const jwks of published.slice(1)) assert.deepEqual(jwks, published[0]);
  assert.deepEqual(published[0]!.keys.map((key) => key.kid).sort(), keys.map((key) => key.kid).sort(), 'the JWKS is exactly the stored keys');
});

test('no instance logged an error while starting beside the others', () => {
  for (const instance of cluster.instances) {
    const errors = instance
      .output()
      .split('\n')
      .filter((line) => /"level":(50|60)/.test(line));
    assert.deepEqual(errors, [], instance.name);
  }
});
