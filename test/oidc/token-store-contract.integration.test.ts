import { randomUUID } from 'node:crypto';
import { after, before } from 'node:test';

import type { Prisma } from '../../src/db/index.ts';
import { createPrismaTokenStore } from '../../src/oidc/store/index.ts';
import { createMigratedDatabase } from '../helpers/test-database.ts';
import { describeTokenStoreContract } from '../contracts/token-store.ts';

// The token store on the real database (embedded, or Postgres with TEST_DATABASE=postgres),
// held to the same contract as the in-memory fake (test/oidc/token-store-contract.unit.test.ts).
// On Postgres the concurrent claims run on separate connections at once.

let database: Awaited<ReturnType<typeof createMigratedDatabase>>;

before(async () => {
  database = await createMigratedDatabase();
});
after(async () => {
  await database?.destroy();
});

describeTokenStoreContract(() => ({
  store: createPrismaTokenStore(database.prisma, database.pool),
  async putRefreshToken(id, row) {
    await database.prisma.oidcRefreshToken.create({
      data: { id, grantId: row.grantId ?? null, rotatedFrom: row.rotatedFrom ?? null, payload: { kind: 'RefreshToken' } },
    });
  },
  hasRefreshToken: async (id) => (await database.prisma.oidcRefreshToken.count({ where: { id } })) === 1,
  async putGrant(row) {
    await database.prisma.oidcGrant.create({ data: { ...row, payload: row.payload as Prisma.InputJsonValue } });
  },
  async newAccount() {
    const id = randomUUID();
    await database.prisma.account.create({ data: { id, email: `${id}@example.test`, name: 'Contract' } });
    return id;
  },
  async newClient() {
    const clientId = `client-${randomUUID()}`;
    await database.prisma.client.create({ data: { clientId, type: 'service', name: 'Contract' } });
    return clientId;
  },
}));
