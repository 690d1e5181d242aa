import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';

import { createPrismaTokenStore, type TokenStore } from '../../src/oidc/index.ts';
import { createMigratedDatabase } from '../helpers/test-database.ts';

// The rotation claim on the real database, as two instances race for it: one whose claim
// outlived its lease and failed, and the retry that took the token over meanwhile.

let database: Awaited<ReturnType<typeof createMigratedDatabase>>;
let store: TokenStore;

before(async () => {
  database = await createMigratedDatabase();
  store = createPrismaTokenStore(database.prisma);
});

after(async () => {
  await database?.destroy();
});

async function storeToken(id: string, rotatedFrom?: string) {
  await database.prisma.oidcRefreshToken.create({
    data: { id, grantId: 'grant', payload: {}, expiresAt: new Date(Date.now() + 60_000), ...(rotatedFrom && { rotatedFrom }) },
  });
}

describe('releasing a rotation claim', () => {
  test('a claim taken over is released only by its holder: the late failure of the old claim neither frees the token nor removes the new successor', async () => {
    await storeToken('rt-raced');
    assert.equal(await store.claimRefreshToken('rt-raced', 'slow', 1), 'claimed');
    await sleep(20);
    assert.equal(await store.claimRefreshToken('rt-raced', 'retry', 1), 'taken_over');
    await storeToken('rt-raced-successor', 'rt-raced');

    // The slow request finally fails and gives up what it thinks is its claim.
    await store.releaseClaim('rt-raced', 'slow');

    assert.equal(await database.prisma.oidcRefreshToken.count({ where: { id: 'rt-raced-successor' } }), 1, 'the holder’s successor survives');
    assert.equal(await store.completeRotation('rt-raced', 'retry', 'sealed'), true, 'the holder still completes');
    assert.equal((await store.readRotation('rt-raced'))?.rotated, true);
  });

  test('the holder’s own release frees the token and removes what it stored', async () => {
    await storeToken('rt-failed');
    assert.equal(await store.claimRefreshToken('rt-failed', 'mine', 5_000), 'claimed');
    await storeToken('rt-failed-successor', 'rt-failed');
    await store.releaseClaim('rt-failed', 'mine');
    assert.equal(await database.prisma.oidcRefreshToken.count({ where: { id: 'rt-failed-successor' } }), 0);
    assert.equal(await store.claimRefreshToken('rt-failed', 'next', 5_000), 'claimed');
  });

  test('a completed rotation is never undone by a release', async () => {
    await storeToken('rt-done');
    assert.equal(await store.claimRefreshToken('rt-done', 'mine', 5_000), 'claimed');
    await storeToken('rt-done-successor', 'rt-done');
    assert.equal(await store.completeRotation('rt-done', 'mine', 'sealed'), true);
    await store.releaseClaim('rt-done', 'mine');
    assert.equal(await database.prisma.oidcRefreshToken.count({ where: { id: 'rt-done-successor' } }), 1);
    assert.equal(await store.claimRefreshToken('rt-done', 'again', 5_000), 'refused');
  });
});
