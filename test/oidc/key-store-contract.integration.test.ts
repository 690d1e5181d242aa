import { after, before } from 'node:test';

import { createPrismaKeyStore } from '../../src/oidc/store/index.ts';
import { describeKeyStoreContract } from '../contracts/key-store.ts';
import { createMigratedDatabase } from '../helpers/test-database.ts';

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
