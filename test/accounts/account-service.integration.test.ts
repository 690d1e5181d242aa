import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { createAccountService, createAccountStore, createArgon2Hasher, type AccountService } from '../../src/accounts/index.ts';
import { ConflictError } from '../../src/errors.ts';
import { createMigratedDatabase } from '../helpers/test-database.ts';

// The account service's rules run at unit speed on the in-memory store
// (test/accounts/account-service.unit.test.ts; the store contract keeps the two alike). What stays
// here needs the database itself: the unique key on the normalised email.

// Cheap argon2 parameters: these tests are about the service's rules, not the hash cost.
const CHEAP = { memoryCost: 1024, timeCost: 1, parallelism: 1 };
const PASSWORD = 'correct horse battery';

let database: Awaited<ReturnType<typeof createMigratedDatabase>>;
let accounts: AccountService;
let sequence = 0;
/** A fresh address per test, so tests do not depend on each other's rows. */
const nextEmail = () => `user${++sequence}@example.com`;

before(async () => {
  database = await createMigratedDatabase();
  accounts = createAccountService({ store: createAccountStore(database.prisma, database.pool), hasher: createArgon2Hasher(CHEAP) });
});

after(async () => {
  await database?.destroy();
});

const rowsFor = (email: string) => database.prisma.account.count({ where: { email } });

describe('creating accounts', () => {
  test('a second account with the same email in another case is a ConflictError, and only one row exists', async () => {
    const email = nextEmail();
    await accounts.create({ email, name: 'First', password: PASSWORD });
    await assert.rejects(accounts.create({ email: email.toUpperCase(), name: 'Second', password: PASSWORD }), ConflictError);
    assert.equal(await rowsFor(email), 1);
    assert.equal((await accounts.get(email)).name, 'First');
  });
});
