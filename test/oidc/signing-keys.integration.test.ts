import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { createSealer, SealedSecretError } from '../../src/crypto/index.ts';
import { createDatabase } from '../../src/db/index.ts';
import { loadKeyMaterial as load } from '../../src/oidc/index.ts';
import type { PrismaClient } from '../../src/db/index.ts';
import type { Sealer } from '../../src/crypto/index.ts';
import { createMigratedDatabase, TEST_ENGINE } from '../helpers/test-database.ts';

const SECRET = 'signing-key-test-master-secret-0123456789';
const loadKeyMaterial = (prisma: PrismaClient, sealer: Sealer) => load(prisma, sealer, { lifetimeSeconds: () => 600, marginSeconds: 60 });
let database: Awaited<ReturnType<typeof createMigratedDatabase>>;

before(async () => {
  database = await createMigratedDatabase();
});
after(async () => {
  await database?.destroy();
});

test('the first start creates one RS256 and one ES256 key and a cookie key, sealed at rest', async () => {
  const keys = await loadKeyMaterial(database.prisma, createSealer(SECRET));
  assert.deepEqual(keys.jwks.keys.map((key) => key.alg).sort(), ['ES256', 'RS256']);
  assert.equal(keys.cookieKeys.length, 1);
  const rows = await database.prisma.signingKey.findMany();
  for (const row of rows) {
    const jwk = keys.jwks.keys.find((key) => key.kid === row.kid)!;
    assert.ok(jwk.d, 'the provider receives the private key');
    assert.ok(!row.privateJwkCiphertext.includes(jwk.d), 'the stored key is not the plain private key');
  }
});

test(`instances starting at once on one database (${TEST_ENGINE}) all end with the same keys`, async () => {
  // On Postgres a second pool stands for a second instance and they really race. The
  // embedded database serves one process (its folder is locked), so there the concurrent
  // loads share its one-connection pool.
  const other =
    TEST_ENGINE === 'postgres'
      ? createDatabase({ url: database.testDatabase.url, poolMax: database.testDatabase.poolMax })
      : { prisma: database.prisma, close: () => Promise.resolve() };
  try {
    // Back to a first start: no keys yet.
    await database.prisma.signingKey.deleteMany();
    await database.prisma.cookieKey.deleteMany();
    const sealer = createSealer(SECRET);
    const loads = await Promise.all([
      loadKeyMaterial(database.prisma, sealer),
      loadKeyMaterial(other.prisma, sealer),
      loadKeyMaterial(database.prisma, sealer),
    ]);
    const kids = loads.map((keys) => keys.jwks.keys.map((key) => key.kid).sort().join(','));
    assert.equal(new Set(kids).size, 1);
    assert.equal(new Set(loads.map((keys) => keys.cookieKeys.join(','))).size, 1);
    assert.equal(await database.prisma.signingKey.count(), 2);
    assert.equal(await database.prisma.cookieKey.count(), 1);
  } finally {
    await other.close();
  }
});

test('a different master secret cannot open the stored keys and says so', async () => {
  await assert.rejects(loadKeyMaterial(database.prisma, createSealer('another-master-secret-that-is-long-enough')), (error) => {
    assert.ok(error instanceof SealedSecretError);
    assert.match(error.message, /MASTER_SECRET/);
    return true;
  });
});
