import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { NO_KEY_CHANGES } from '../../src/oidc/key-store.ts';
import { createPrismaKeyStore } from '../../src/oidc/store/index.ts';
import { describeKeyStoreContract } from '../contracts/key-store.ts';
import { createMigratedDatabase, TEST_ENGINE } from '../helpers/test-database.ts';

// The key store on the real database (embedded, or Postgres with TEST_DATABASE=postgres),
// held to the same contract as the in-memory fake (test/oidc/key-store-contract.unit.test.ts).

let database: Awaited<ReturnType<typeof createMigratedDatabase>>;

before(async () => {
  database = await createMigratedDatabase();
});
after(async () => {
  await database?.destroy();
});

describeKeyStoreContract(() => ({
  store: createPrismaKeyStore(database.prisma),
  async clear() {
    await database.prisma.signingKey.deleteMany();
    await database.prisma.cookieKey.deleteMany();
  },
}));

// Listing the keys (the admin API's GET /keys, an admin:read route) must not queue behind the
// writers' advisory lock, which starts and rotations hold while they generate keys. Postgres
// only: the embedded database serves one connection, so everything waits for a transaction.
test('present does not wait for a change holding the lock', { skip: TEST_ENGINE !== 'postgres' && 'the embedded database serves one connection' }, async () => {
  const store = createPrismaKeyStore(database.prisma);
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  let planning = false;
  const inProgress = store.change(async () => {
    planning = true;
    await held;
    return NO_KEY_CHANGES;
  });
  while (!planning) await sleep(5);
  try {
    const present = await Promise.race([store.present(), sleep(5_000).then(() => 'waited' as const)]);
    assert.notEqual(present, 'waited', 'present() waited for the lock');
  } finally {
    release();
    await inProgress;
  }
});
