import { after, before, describe } from 'node:test';

import { createAccountStore } from '../../src/accounts/index.ts';
import { describeAccountStore } from '../contracts/account-store.ts';
import { createMigratedDatabase, TEST_ENGINE } from '../helpers/test-database.ts';

let database: Awaited<ReturnType<typeof createMigratedDatabase>>;

before(async () => {
  database = await createMigratedDatabase();
});

after(async () => {
  await database?.destroy();
});

describe(`the Prisma account store (${TEST_ENGINE} database)`, () => {
  describeAccountStore(async () => {
    // Each contract test starts from an empty table.
    await database.prisma.account.deleteMany();
    return createAccountStore(database.prisma, database.pool);
  });
});
