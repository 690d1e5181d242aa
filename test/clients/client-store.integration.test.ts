import { after, before, describe } from 'node:test';

import { createClientStore } from '../../src/clients/index.ts';
import { describeClientStore } from '../contracts/client-store.ts';
import { createMigratedDatabase, TEST_ENGINE } from '../helpers/test-database.ts';

const CONTRACT_RESOURCES = ['https://api.example.com', 'https://a.example.com'];

let database: Awaited<ReturnType<typeof createMigratedDatabase>>;

before(async () => {
  database = await createMigratedDatabase();
});

after(async () => {
  await database?.destroy();
});

describe(`the Prisma client store (${TEST_ENGINE} database)`, () => {
  describeClientStore(async () => {
    // Each contract test starts from an empty table. The store holds a client's resource
    // servers while it writes (FOR SHARE, against a concurrent delete), so those the
    // contract's clients name exist.
    await database.prisma.client.deleteMany();
    for (const indicator of CONTRACT_RESOURCES) {
      await database.prisma.resourceServer.upsert({ where: { indicator }, create: { indicator, name: indicator }, update: {} });
    }
    return createClientStore(database.prisma);
  });
});
