import { after, before, describe } from 'node:test';

import { createClientStore } from '../../src/clients/index.ts';
import { describeClientStore } from '../contracts/client-store.ts';
import { createMigratedDatabase, TEST_ENGINE } from '../helpers/test-database.ts';

let database: Awaited<ReturnType<typeof createMigratedDatabase>>;

before(async () => {
  database = await createMigratedDatabase();
});

after(async () => {
  await database?.destroy();
});

describe(`the Prisma client store (${TEST_ENGINE} database)`, () => {
  describeClientStore(async () => {
    // Each contract test starts from an empty table.
    await database.prisma.client.deleteMany();
    return createClientStore(database.prisma);
  });
});
