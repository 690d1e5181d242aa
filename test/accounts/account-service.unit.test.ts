import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import {
  createAccountService,
  createArgon2Hasher,
  MAX_PASSWORD_BYTES,
  type AccountService,
  type PasswordHasher,
} from '../../src/accounts/index.ts';
import { NotFoundError, ValidationError } from '../../src/errors.ts';
import { captureAudit } from '../helpers/capture-audit.ts';
import { createMemoryAccountStore, type MemoryAccountStore } from '../fakes/memory-account-store.ts';

// The account service's rules on the in-memory store, which keeps the same contract as the
// Prisma store (test/contracts/account-store.ts). What needs the database itself stays in
// test/accounts/account-service.integration.test.ts.

// Cheap argon2 parameters: these tests are about the service's rules, not the hash cost.
const CHEAP = { memoryCost: 1024, timeCost: 1, parallelism: 1 };
const PASSWORD = 'correct horse battery';

/** The real hasher, counting how often it is asked to hash and verify. */
function countingHasher(inner: PasswordHasher): PasswordHasher & { calls: { hash: number; verify: number } } {
  const calls = { hash: 0, verify: 0 };
  return {
    calls,
    hash: (password) => {
      calls.hash += 1;
      return inner.hash(password);
    },
    verify: (hash, password) => {
      calls.verify += 1;
      return inner.verify(hash, password);
    },
    needsRehash: (hash) => inner.needsRehash(hash),
  };
}

let store: MemoryAccountStore;
let hasher: ReturnType<typeof countingHasher>;
let accounts: AccountService;
let sequence = 0;
/** A fresh address per test, so tests do not depend on each other's rows. */
const nextEmail = () => `user${++sequence}@example.com`;

before(() => {
  store = createMemoryAccountStore();
  hasher = countingHasher(createArgon2Hasher(CHEAP));
  accounts = createAccountService({ store, hasher });
});

const rowsFor = (email: string) => Promise.resolve(store.all().filter((account) => account.email === email).length);

describe('creating accounts', () => {
  test('the email is stored normalised: trimmed, lower-cased, NFKC', async () => {
    const account = await accounts.create({ email: '  Ａnn.Lee@Example.COM ', name: 'Ann Lee', password: PASSWORD });
    assert.equal(account.email, 'ann.lee@example.com');
    const row = await store.findById(account.id);
    assert.equal(row?.email, 'ann.lee@example.com');
    assert.equal(row?.name, 'Ann Lee');
    assert.equal(row?.disabled, false);
    assert.equal(row?.emailVerified, false);
  });

  test('the password is stored as an argon2id hash, never in plain text', async () => {
    const email = nextEmail();
    const account = await accounts.create({ email, name: 'Hash Check', password: PASSWORD });
    assert.match(account.passwordHash ?? '', /^\$argon2id\$/);
    assert.ok(!account.passwordHash?.includes(PASSWORD));
  });


  test('a password shorter than 8 characters is a ValidationError and writes no row', async () => {
    const email = nextEmail();
    await assert.rejects(accounts.create({ email, name: 'Short', password: 'seven77' }), (error: unknown) => {
      assert.ok(error instanceof ValidationError);
      assert.match(error.message, /^password: /);
      return true;
    });
    assert.equal(await rowsFor(email), 0);
  });

  test('password length counts characters, not UTF-16 units: 8 emoji are enough', async () => {
    const email = nextEmail();
    await accounts.create({ email, name: 'Emoji', password: '🔑'.repeat(8) });
    assert.equal((await accounts.authenticate(email, '🔑'.repeat(8))).ok, true);
  });

  test('a password over 1024 bytes is a ValidationError, writes no row and is never hashed', async () => {
    const email = nextEmail();
    const before = hasher.calls.hash;
    await assert.rejects(accounts.create({ email, name: 'Long', password: 'é'.repeat(513) }), (error: unknown) => {
      assert.ok(error instanceof ValidationError);
      assert.match(error.message, /^password: must be at most 1024 bytes$/);
      return true;
    });
    assert.equal(hasher.calls.hash, before);
    assert.equal(await rowsFor(email), 0);
  });

  test('an invalid email, empty name or bad role is a ValidationError naming the field and writes no row', async () => {
    const count = store.all().length;
    await assert.rejects(accounts.create({ email: 'not-an-email', name: 'X', password: PASSWORD }), /^ValidationError: email: /);
    await assert.rejects(accounts.create({ email: nextEmail(), name: '  ', password: PASSWORD }), /^ValidationError: name: /);
    await assert.rejects(accounts.create({ email: nextEmail(), name: 'X', password: PASSWORD, roles: ['Admin!'] }), /^ValidationError: roles\.0: /);
    assert.equal(store.all().length, count);
  });

  test('an account created without a password cannot log in', async () => {
    const email = nextEmail();
    const account = await accounts.create({ email, name: 'No Password' });
    assert.equal(account.passwordHash, null);
    assert.deepEqual(await accounts.authenticate(email, PASSWORD), { ok: false, reason: 'invalid_credentials', accountId: account.id });
  });
});

describe('authenticating', () => {
  let email: string;
  before(async () => {
    email = nextEmail();
    await accounts.create({ email, name: 'Login User', password: PASSWORD });
  });

  test('the right password logs in, whatever the case and spacing of the email', async () => {
    const result = await accounts.authenticate(` ${email.toUpperCase()} `, PASSWORD);
    assert.equal(result.ok, true);
    assert.equal(result.ok && result.account.email, email);
  });

  test('a wrong password and an unknown email both give invalid_credentials; only the wrong password names its account (for the audit trail)', async () => {
    const account = await accounts.get(email);
    const wrong = await accounts.authenticate(email, `${PASSWORD}!`);
    const unknown = await accounts.authenticate('nobody@example.com', PASSWORD);
    assert.deepEqual(wrong, { ok: false, reason: 'invalid_credentials', accountId: account.id });
    assert.deepEqual(unknown, { ok: false, reason: 'invalid_credentials' });
  });

  test('an unknown email still costs one password verification, as a known one does', async () => {
    const before = hasher.calls.verify;
    await accounts.authenticate('nobody-else@example.com', PASSWORD);
    assert.equal(hasher.calls.verify, before + 1);
    await accounts.authenticate(email, 'wrong password');
    assert.equal(hasher.calls.verify, before + 2);
  });

  test('an email that is not an address gives invalid_credentials instead of throwing', async () => {
    assert.deepEqual(await accounts.authenticate('not an email', PASSWORD), { ok: false, reason: 'invalid_credentials' });
  });

  test('a disabled account with the right password gives disabled; with a wrong one, invalid_credentials', async () => {
    const disabledEmail = nextEmail();
    await accounts.create({ email: disabledEmail, name: 'Disabled', password: PASSWORD });
    await accounts.setDisabled(disabledEmail, true);
    const { id } = await accounts.get(disabledEmail);
    assert.deepEqual(await accounts.authenticate(disabledEmail, PASSWORD), { ok: false, reason: 'disabled', accountId: id });
    // Only the owner of the password learns that the account is disabled.
    assert.deepEqual(await accounts.authenticate(disabledEmail, 'wrong password'), { ok: false, reason: 'invalid_credentials', accountId: id });
  });

  test('a password over 1024 bytes is refused without hashing or verifying', async () => {
    const long = 'x'.repeat(MAX_PASSWORD_BYTES + 1);
    const calls = { ...hasher.calls };
    assert.deepEqual(await accounts.authenticate(email, long), { ok: false, reason: 'invalid_credentials' });
    assert.deepEqual(hasher.calls, calls);
  });

  test('a password of exactly 1024 bytes is checked normally', async () => {
    const longEmail = nextEmail();
    const exact = 'x'.repeat(MAX_PASSWORD_BYTES);
    await accounts.create({ email: longEmail, name: 'Long Password', password: exact });
    assert.equal((await accounts.authenticate(longEmail, exact)).ok, true);
  });
});

describe('upgrading outdated hashes', () => {
  const STRONGER = { memoryCost: 2048, timeCost: 2, parallelism: 1 };

  test('a hash with outdated parameters is replaced by a current one on a successful login', async () => {
    const email = nextEmail();
    const created = await accounts.create({ email, name: 'Old Hash', password: PASSWORD });
    const oldHash = created.passwordHash!;
    assert.match(oldHash, /\$m=1024,t=1,p=1\$/);

    const stronger = createArgon2Hasher(STRONGER);
    assert.equal(stronger.needsRehash(oldHash), true);
    const upgraded = createAccountService({ store, hasher: stronger });

    const result = await upgraded.authenticate(email, PASSWORD);
    assert.equal(result.ok, true);
    const row = await store.findByEmail(email);
    const newHash = row!.passwordHash!;
    assert.notEqual(newHash, oldHash);
    assert.match(newHash, /^\$argon2id\$v=19\$m=2048,t=2,p=1\$/);
    assert.equal(stronger.needsRehash(newHash), false);
    assert.equal(result.ok && result.account.passwordHash, newHash);
    // The upgraded hash still proves the same password.
    assert.equal((await upgraded.authenticate(email, PASSWORD)).ok, true);
    assert.equal((await upgraded.authenticate(email, 'wrong password')).ok, false);
  });

  test('a failed login does not touch an outdated hash', async () => {
    const email = nextEmail();
    const created = await accounts.create({ email, name: 'Old Hash 2', password: PASSWORD });
    const upgraded = createAccountService({ store, hasher: createArgon2Hasher(STRONGER) });
    assert.equal((await upgraded.authenticate(email, 'wrong password')).ok, false);
    const row = await store.findByEmail(email);
    assert.equal(row?.passwordHash, created.passwordHash);
  });

  test('a current hash is left as it is on login', async () => {
    const email = nextEmail();
    const created = await accounts.create({ email, name: 'Current Hash', password: PASSWORD });
    assert.equal((await accounts.authenticate(email, PASSWORD)).ok, true);
    const row = await store.findByEmail(email);
    assert.equal(row?.passwordHash, created.passwordHash);
  });
});

describe('managing accounts', () => {
  test('setPassword by email replaces the password: the old one stops working', async () => {
    const email = nextEmail();
    await accounts.create({ email, name: 'Reset', password: PASSWORD });
    await accounts.setPassword(email.toUpperCase(), 'a brand new password');
    assert.equal((await accounts.authenticate(email, PASSWORD)).ok, false);
    assert.equal((await accounts.authenticate(email, 'a brand new password')).ok, true);
  });

  test('setPassword by id works the same, and gives a password to an account that had none', async () => {
    const email = nextEmail();
    const account = await accounts.create({ email, name: 'No Password Yet' });
    await accounts.setPassword(account.id, 'first password');
    assert.equal((await accounts.authenticate(email, 'first password')).ok, true);
  });

  test('setPassword refuses a too-short password and keeps the old one', async () => {
    const email = nextEmail();
    await accounts.create({ email, name: 'Keep', password: PASSWORD });
    await assert.rejects(accounts.setPassword(email, 'short'), ValidationError);
    assert.equal((await accounts.authenticate(email, PASSWORD)).ok, true);
  });

  test('setDisabled by email and by id disables and re-enables the account', async () => {
    const email = nextEmail();
    const account = await accounts.create({ email, name: 'Toggle', password: PASSWORD });
    assert.equal((await accounts.setDisabled(email, true)).disabled, true);
    assert.deepEqual(await accounts.authenticate(email, PASSWORD), { ok: false, reason: 'disabled', accountId: account.id });
    assert.equal((await accounts.setDisabled(account.id, false)).disabled, false);
    assert.equal((await accounts.authenticate(email, PASSWORD)).ok, true);
  });

  test('get finds an account by id and by any spelling of its email', async () => {
    const email = nextEmail();
    const account = await accounts.create({ email, name: 'Findable', password: PASSWORD });
    assert.equal((await accounts.get(account.id)).email, email);
    assert.equal((await accounts.get(` ${email.toUpperCase()}`)).id, account.id);
    assert.equal((await accounts.findById(account.id))?.id, account.id);
  });

  test('findByIdOrEmail finds by id or any spelling of the email, and gives undefined for an unknown one', async () => {
    const email = nextEmail();
    const account = await accounts.create({ email, name: 'Maybe' });
    assert.equal((await accounts.findByIdOrEmail(account.id))?.id, account.id);
    assert.equal((await accounts.findByIdOrEmail(` ${email.toUpperCase()}`))?.id, account.id);
    assert.equal(await accounts.findByIdOrEmail('nobody-at-all@example.com'), undefined);
    assert.equal(await accounts.findByIdOrEmail('00000000-0000-4000-8000-000000000000'), undefined);
    assert.equal(await accounts.findByIdOrEmail('not-a-uuid'), undefined);
    // A malformed address is the caller's mistake to hear about, not a missing account.
    await assert.rejects(accounts.findByIdOrEmail('two@@example.com'), ValidationError);
  });

  test('get, setPassword and setDisabled of an unknown account throw NotFoundError', async () => {
    await assert.rejects(accounts.get('nobody-at-all@example.com'), NotFoundError);
    await assert.rejects(accounts.get('00000000-0000-4000-8000-000000000000'), NotFoundError);
    await assert.rejects(accounts.get('not-a-uuid'), NotFoundError);
    await assert.rejects(accounts.setPassword('nobody-at-all@example.com', 'long enough password'), NotFoundError);
    await assert.rejects(accounts.setDisabled('00000000-0000-4000-8000-000000000000', true), NotFoundError);
    assert.equal(await accounts.findById('not-a-uuid'), undefined);
  });

  test('list returns every account, oldest first', async () => {
    const first = await accounts.create({ email: nextEmail(), name: 'List A' });
    const second = await accounts.create({ email: nextEmail(), name: 'List B' });
    const listed = await accounts.list();
    const ids = listed.map((account) => account.id);
    assert.ok(ids.includes(first.id) && ids.includes(second.id));
    const times = listed.map((account) => account.createdAt.getTime());
    assert.deepEqual(times, [...times].sort((a, b) => a - b));
  });
});

describe('recording what changes', () => {
  function audited() {
    const audit = captureAudit();
    const events = audit.events;
    const revoked: string[] = [];
    const service = createAccountService({
      store: createMemoryAccountStore(),
      hasher,
      audit,
      tokens: {
        revokeAccount: (accountId) => {
          revoked.push(accountId);
          return Promise.resolve({ grants: 2, tokens: 5 });
        },
      },
    });
    return { service, events, revoked };
  }

  test('every change records one event naming the account, with facts and never the password', async () => {
    const { service, events } = audited();
    const account = await service.create({ email: nextEmail(), name: 'Audited', password: PASSWORD, roles: ['ops'] });
    await service.setPassword(account.id, 'another long password');
    await service.update(account.id, { name: 'Renamed', roles: ['ops', 'admin'] });
    await service.setDisabled(account.id, false);
    assert.deepEqual(events, [
      { type: 'user.created', accountId: account.id, data: { roles: ['ops'], emailVerified: false, hasPassword: true } },
      { type: 'user.password_changed', accountId: account.id },
      { type: 'user.updated', accountId: account.id, data: { fields: ['name', 'roles'], roles: ['ops', 'admin'], previousRoles: ['ops'] } },
      { type: 'user.enabled', accountId: account.id },
    ]);
    assert.ok(!JSON.stringify(events).includes(PASSWORD));
    assert.ok(!JSON.stringify(events).includes('another long password'));
  });

  test('disabling ends the account’s tokens and records how many; revoking does so and leaves it enabled', async () => {
    const { service, events, revoked } = audited();
    const account = await service.create({ email: nextEmail(), name: 'Revoked' });
    const result = await service.revokeTokens(account.email);
    assert.deepEqual({ grants: result.grants, tokens: result.tokens }, { grants: 2, tokens: 5 });
    assert.equal((await service.get(account.id)).disabled, false);
    assert.equal((await service.setDisabled(account.id, true)).disabled, true);
    assert.deepEqual(revoked, [account.id, account.id]);
    assert.deepEqual(events.slice(1), [
      { type: 'user.tokens_revoked', accountId: account.id, data: { grants: 2, tokens: 5 } },
      { type: 'user.disabled', accountId: account.id, data: { grants: 2, tokens: 5 } },
    ]);
  });

  test('a refused change records nothing', async () => {
    const { service, events } = audited();
    await assert.rejects(service.create({ email: nextEmail(), name: 'X', password: 'short' }), ValidationError);
    await assert.rejects(service.setDisabled('nobody@example.com', true), NotFoundError);
    assert.deepEqual(events, []);
  });
});
