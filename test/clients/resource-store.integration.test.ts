import { after, before, describe } from 'node:test';

import { createResourceStore } from '../../src/clients/index.ts';
import { describeResourceStore } from '../contracts/resource-store.ts';
import { createMigratedDatabase, TEST_ENGINE } from '../helpers/test-database.ts';

let database: Awaited<ReturnType<typeof createMigratedDatabase>>;

before(async () => {
  database = await createMigratedDatabase();
});

after(async () => {
  await database?.destroy();
});

describe(`the Prisma resource server store (${TEST_ENGINE} database)`, () => {
  describeResourceStore(async () => {
    // Each contract test starts from empty tables (the scopes go with their server).
    await database.prisma.resourceServer.deleteMany();
    return createResourceStore(database.prisma);
  });
});
