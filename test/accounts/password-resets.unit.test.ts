import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';

import { createAccountService, createArgon2Hasher, createPasswordResets, type PasswordResetStore } from '../../src/accounts/index.ts';
import { createMemoryAccountStore } from '../fakes/memory-account-store.ts';

// The reset service's rules on in-memory stores: what is stored (a hash, never the token),
// what a reset ends (configurable), and the throttle release it leaves. Over HTTP and on
// both databases: test/interactions/password-reset.flow.test.ts.

const PASSWORD = 'an old password, long enough';
const NEW_PASSWORD = 'tulip-engine-cobalt-41';

function memoryResetStore() {
  const rows = new Map<string, { accountId: string; interactionUid: string | null; used: boolean; refusals: number }>();
  const store: PasswordResetStore = {
    create: ({ tokenHash, accountId, interactionUid }) => (rows.set(tokenHash, { accountId, interactionUid: interactionUid ?? null, used: false, refusals: 0 }), Promise.resolve()),
    find: (hash) => {
      const row = rows.get(hash);
      return Promise.resolve(row && !row.used ? { accountId: row.accountId, interactionUid: row.interactionUid } : undefined);
    },
    consume: (hash) => {
      const row = rows.get(hash);
      if (!row || row.used) return Promise.resolve(undefined);
      row.used = true;
      return Promise.resolve({ accountId: row.accountId, interactionUid: row.interactionUid });
    },
    refuse: (hash, limit) => {
      const row = rows.get(hash);
      if (!row || row.used) return Promise.resolve(true);
      row.refusals += 1;
      row.used = row.refusals >= limit;
      return Promise.resolve(row.used);
    },
    spendAll: (accountId) => {
      for (const row of rows.values()) if (row.accountId === accountId) row.used = true;
      return Promise.resolve();
    },
  };
  return { store, rows };
}

async function setup(endSessions: boolean, revokeFails = false) {
  const revoked: string[] = [];
  const released: (string | undefined)[] = [];
  const accounts = createAccountService({
    store: createMemoryAccountStore(),
    hasher: createArgon2Hasher({ memoryCost: 1024, timeCost: 1, parallelism: 1 }),
    tokens: { revokeAccount: (id) => (revoked.push(id), revokeFails ? Promise.reject(new Error('connection terminated')) : Promise.resolve({ grants: 2, tokens: 5 })) },
  });
  const account = await accounts.create({ email: 'Ada@Example.com', name: 'Ada', password: PASSWORD });
  const { store, rows } = memoryResetStore();
  const resets = createPasswordResets({ store, accounts, releases: { add: ({ subject }) => (released.push(subject), Promise.resolve()) }, ttlSeconds: 600, endSessions });
  return { accounts, account, resets, rows, revoked, released };
}

describe('password resets', () => {
  test('store only the SHA-256 of a 256-bit token, for the account the address names in any spelling', async () => {
    const { resets, rows, account } = await setup(true);
    const { token, account: found } = await resets.request('  ADA@example.COM ', { interactionUid: 'uid-1' });
    assert.equal(found?.id, account.id);
    assert.match(token ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.deepEqual([...rows.keys()], [createHash('sha256').update(token!).digest('base64url')]);
    assert.ok(![...rows.keys()].includes(token!));
    assert.deepEqual(await resets.request('nobody@example.com'), {});
    assert.deepEqual(await resets.request('not an address'), {});
  });

  test('a reset sets the password, ends what the account holds, spends every other link and lifts its login blocks', async () => {
    const { resets, accounts, account, revoked, released } = await setup(true);
    const first = await resets.request(account.email);
    const second = await resets.request(account.email, { interactionUid: 'uid-2' });
    const outcome = await resets.complete(second.token!, NEW_PASSWORD);
    assert.ok(outcome.ok);
    assert.equal(outcome.interactionUid, 'uid-2');
    assert.deepEqual(outcome.ended, { grants: 2, tokens: 5 });
    assert.deepEqual(revoked, [account.id]);
    assert.deepEqual(released, ['ada@example.com']);
    assert.ok((await accounts.authenticate(account.email, NEW_PASSWORD)).ok);
    assert.equal(await resets.isUsable(first.token!), false, 'the older link is spent too');
    assert.deepEqual(await resets.complete(first.token!, 'another password, long enough'), { ok: false, reason: 'invalid_link' });
  });

  test('when ending the sessions fails, the reset still answers that the password changed, and says what failed', async () => {
    const { resets, accounts, account, revoked } = await setup(true, true);
    const { token } = await resets.request(account.email);
    const outcome = await resets.complete(token!, NEW_PASSWORD);
    assert.ok(outcome.ok, 'not a 500 that would hide what happened');
    assert.equal(outcome.ended, undefined);
    assert.match(String(outcome.endFailed), /connection terminated/);
    assert.deepEqual(revoked, [account.id]);
    assert.ok((await accounts.authenticate(account.email, NEW_PASSWORD)).ok, 'the password did change');
    assert.equal(await resets.isUsable(token!), false);
  });

  test('with PASSWORD_RESET_ENDS_SESSIONS=false, the sessions and tokens are left alone', async () => {
    const { resets, account, revoked } = await setup(false);
    const { token } = await resets.request(account.email);
    const outcome = await resets.complete(token!, NEW_PASSWORD);
    assert.ok(outcome.ok);
    assert.equal(outcome.ended, undefined);
    assert.deepEqual(revoked, []);
  });

  test('a disabled account gets no link, and a link made before it was disabled no longer works', async () => {
    const { resets, accounts, account } = await setup(true);
    const { token } = await resets.request(account.email);
    await accounts.setDisabled(account.id, true);
    assert.deepEqual(await resets.request(account.email), {});
    assert.equal(await resets.isUsable(token!), false);
    assert.deepEqual(await resets.complete(token!, NEW_PASSWORD), { ok: false, reason: 'invalid_link' });
  });
});
