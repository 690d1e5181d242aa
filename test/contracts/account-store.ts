// The contract every AccountStore keeps (src/accounts/account-store.ts): Prisma on both
// databases (test/accounts/account-store.integration.test.ts) and the in-memory fake the unit tests
// of the account service use (test/accounts/account-store.unit.test.ts). Where the two could
// differ, the database's behaviour is the rule written here.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { AccountStore, NewAccount } from '../../src/accounts/account-store.ts';
import { ConflictError, NotFoundError } from '../../src/errors.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

/** `make` gives an empty store each time it is called. */
export function describeAccountStore(make: () => Promise<AccountStore>): void {
  const account = (email: string, extra: Partial<NewAccount> = {}): NewAccount => ({ email, name: 'Ann Lee', passwordHash: '$argon2id$x', ...extra });
  /** Timestamps have millisecond precision: a pause keeps creation order visible. */
  const tick = () => new Promise((resolve) => setTimeout(resolve, 3));

  test('create returns the account with a UUID, the given fields and the defaults', async () => {
    const store = await make();
    const created = await store.create(account('ann@example.com'));
    assert.match(created.id, UUID);
    assert.equal(created.email, 'ann@example.com');
    assert.equal(created.name, 'Ann Lee');
    assert.equal(created.passwordHash, '$argon2id$x');
    assert.equal(created.emailVerified, false);
    assert.equal(created.disabled, false);
    assert.deepEqual(created.roles, []);
    assert.ok(created.createdAt instanceof Date);
    assert.ok(created.updatedAt instanceof Date);
  });

  test('create keeps a null password hash, the verified flag and the roles as given', async () => {
    const store = await make();
    const created = await store.create(account('bob@example.com', { passwordHash: null, emailVerified: true, roles: ['admin', 'ops:read'] }));
    assert.equal(created.passwordHash, null);
    assert.equal(created.emailVerified, true);
    assert.deepEqual(created.roles, ['admin', 'ops:read']);
    assert.deepEqual(await store.findById(created.id), created);
  });

  test('count counts every account, disabled ones too', async () => {
    const store = await make();
    assert.equal(await store.count(), 0);
    await store.create(account('one@example.com'));
    const two = await store.create(account('two@example.com'));
    await store.update(two.id, { disabled: true });
    assert.equal(await store.count(), 2);
  });

  test('each account gets its own id', async () => {
    const store = await make();
    const a = await store.create(account('a@example.com'));
    const b = await store.create(account('b@example.com'));
    assert.notEqual(a.id, b.id);
  });

  test('a second account with a stored email is a ConflictError and the first is unchanged', async () => {
    const store = await make();
    const first = await store.create(account('same@example.com'));
    await assert.rejects(store.create(account('same@example.com', { name: 'Other' })), (error: unknown) => {
      assert.ok(error instanceof ConflictError, `expected ConflictError, got ${String(error)}`);
      assert.match(error.message, /already exists/);
      return true;
    });
    assert.deepEqual(await store.findByEmail('same@example.com'), first);
    assert.equal((await store.list()).length, 1);
  });

  test('the store does not normalise: emails differing in case are different accounts', async () => {
    // Normalising is the service's job (normalize-email.ts); the store compares as stored.
    const store = await make();
    await store.create(account('case@example.com'));
    assert.equal(await store.findByEmail('CASE@example.com'), undefined);
    const upper = await store.create(account('CASE@example.com'));
    assert.equal((await store.findByEmail('CASE@example.com'))?.id, upper.id);
  });

  test('findById and findByEmail return the stored account', async () => {
    const store = await make();
    const created = await store.create(account('find@example.com'));
    assert.deepEqual(await store.findById(created.id), created);
    assert.deepEqual(await store.findByEmail('find@example.com'), created);
    // A UUID is a UUID in either case (Postgres compares the value, not the text).
    assert.deepEqual(await store.findById(created.id.toUpperCase()), created);
  });

  test('an unknown id or email is undefined, and an id that is not a UUID is undefined, not an error', async () => {
    const store = await make();
    await store.create(account('known@example.com'));
    assert.equal(await store.findById(UNKNOWN_ID), undefined);
    assert.equal(await store.findByEmail('unknown@example.com'), undefined);
    for (const id of ['not-a-uuid', '', 'known@example.com', '\u0000', 'x'.repeat(10_000)]) {
      assert.equal(await store.findById(id), undefined, JSON.stringify(id.slice(0, 20)));
    }
  });

  test('list returns every account, oldest first', async () => {
    const store = await make();
    const created = [];
    for (const email of ['c@example.com', 'a@example.com', 'b@example.com']) {
      created.push(await store.create(account(email)));
      await tick();
    }
    assert.deepEqual(await store.list(), created);
  });

  test('list with a limit returns the oldest accounts up to it', async () => {
    const store = await make();
    const created = [];
    for (const email of ['1@example.com', '2@example.com', '3@example.com']) {
      created.push(await store.create(account(email)));
      await tick();
    }
    assert.deepEqual(await store.list({ limit: 2 }), created.slice(0, 2));
  });

  test('an empty store lists nothing', async () => {
    const store = await make();
    assert.deepEqual(await store.list(), []);
  });

  test('update changes the given fields only and returns the updated account', async () => {
    const store = await make();
    const created = await store.create(account('change@example.com', { roles: ['a'] }));
    await tick();
    const updated = await store.update(created.id, { name: 'Renamed', disabled: true });
    assert.equal(updated.name, 'Renamed');
    assert.equal(updated.disabled, true);
    assert.equal(updated.email, created.email);
    assert.equal(updated.passwordHash, created.passwordHash);
    assert.deepEqual(updated.roles, ['a']);
    assert.equal(updated.createdAt.getTime(), created.createdAt.getTime());
    assert.ok(updated.updatedAt.getTime() > created.updatedAt.getTime(), 'updatedAt moves on');
    assert.deepEqual(await store.findById(created.id), updated);
  });

  test('update sets and clears the password hash, the verified flag and the roles', async () => {
    const store = await make();
    const created = await store.create(account('fields@example.com'));
    const cleared = await store.update(created.id, { passwordHash: null, emailVerified: true, roles: ['x', 'y'] });
    assert.equal(cleared.passwordHash, null);
    assert.equal(cleared.emailVerified, true);
    assert.deepEqual(cleared.roles, ['x', 'y']);
    const again = await store.update(created.id, { passwordHash: '$argon2id$new', roles: [] });
    assert.equal(again.passwordHash, '$argon2id$new');
    assert.deepEqual(again.roles, []);
  });

  test('updating an unknown account is a NotFoundError and creates nothing', async () => {
    const store = await make();
    await assert.rejects(store.update(UNKNOWN_ID, { name: 'Ghost' }), (error: unknown) => {
      assert.ok(error instanceof NotFoundError, `expected NotFoundError, got ${String(error)}`);
      assert.match(error.message, /not found/);
      return true;
    });
    // An id that is not a UUID names no account either (Postgres would refuse the cast).
    await assert.rejects(store.update('not-a-uuid', { name: 'Ghost' }), NotFoundError);
    assert.deepEqual(await store.list(), []);
  });

  test('the stored roles are a copy: changing the array given afterwards changes nothing', async () => {
    const store = await make();
    const roles = ['reader'];
    const created = await store.create(account('copy@example.com', { roles }));
    roles.push('admin');
    assert.deepEqual((await store.findById(created.id))?.roles, ['reader']);
    const changed = ['writer'];
    await store.update(created.id, { roles: changed });
    changed.push('admin');
    assert.deepEqual((await store.findById(created.id))?.roles, ['writer']);
  });
}
