import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { createPrismaTokenStore, type DpopReplayStore } from '../../src/oidc/index.ts';
import { createMigratedDatabase } from '../helpers/test-database.ts';

// The spent-proof memory of the resource endpoints, on the real database. Two stores stand
// for two instances: they share nothing but the table. On Postgres the claims of a burst
// run on separate connections at once.

let database: Awaited<ReturnType<typeof createMigratedDatabase>>;
let one: DpopReplayStore;
let two: DpopReplayStore;
const inAMinute = () => new Date(Date.now() + 60_000);

before(async () => {
  database = await createMigratedDatabase();
  one = createPrismaTokenStore(database.prisma, database.pool);
  two = createPrismaTokenStore(database.prisma, database.pool);
});

after(async () => {
  await database?.destroy();
});

describe('DPoP proof replay memory', () => {
  test('a proof id is accepted the first time and refused after, by any instance', async () => {
    assert.equal(await one.firstUse('key-a', 'jti-1', inAMinute()), true);
    assert.equal(await one.firstUse('key-a', 'jti-1', inAMinute()), false);
    assert.equal(await two.firstUse('key-a', 'jti-1', inAMinute()), false);
  });

  test('the same jti under another key is another proof', async () => {
    assert.equal(await one.firstUse('key-b', 'jti-2', inAMinute()), true);
    assert.equal(await two.firstUse('key-c', 'jti-2', inAMinute()), true);
  });

  test('of a concurrent burst of one proof across two instances exactly one is accepted', async () => {
    const claims = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? one : two).firstUse('key-d', 'jti-burst', inAMinute())));
    assert.equal(claims.filter(Boolean).length, 1);
  });

  test('a spent proof is kept until the given time, in the table housekeeping purges', async () => {
    const until = inAMinute();
    await one.firstUse('key-e', 'jti-3', until);
    const rows = await database.prisma.oidcReplayDetection.findMany({ where: { expiresAt: until } });
    assert.equal(rows.length, 1);
  });
});
