import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Secret, TOTP } from 'otpauth';

import type { SecondFactorStore, TotpFactorRow } from '../../src/accounts/second-factor-store.ts';
import { createSecondFactors, hashRecoveryCode, matchingStep, normalizeRecoveryCode, RECOVERY_CODE_COUNT } from '../../src/accounts/second-factors.ts';
import { createSealer } from '../../src/crypto/index.ts';

// The pure parts of second factors: which step a code belongs to, how recovery codes are
// read, and the service's rules over a store kept in memory (the real store's atomicity
// is tested over HTTP on both databases: test/interactions/second-factor.flow.test.ts).

const SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
const T0 = Date.parse('2026-12-05T12:00:10Z');
const STEP = 30_000;
const codeAt = (timestamp: number, secret = SECRET) => TOTP.generate({ secret: Secret.fromBase32(secret), timestamp });

test('a code matches its own step and one step either side, never two', () => {
  const step = Math.floor(T0 / STEP);
  assert.equal(matchingStep(SECRET, codeAt(T0), T0), step);
  assert.equal(matchingStep(SECRET, codeAt(T0 - STEP), T0), step - 1);
  assert.equal(matchingStep(SECRET, codeAt(T0 + STEP), T0), step + 1);
  assert.equal(matchingStep(SECRET, codeAt(T0 - 2 * STEP), T0), undefined);
  assert.equal(matchingStep(SECRET, codeAt(T0 + 2 * STEP), T0), undefined);
});

test('anything but six digits is no code: letters, five or seven digits, empty, padding', () => {
  const code = codeAt(T0);
  for (const bad of ['', 'abcdef', code.slice(0, 5), `${code}1`, `-${code.slice(1)}`, '１２３４５６']) assert.equal(matchingStep(SECRET, bad, T0), undefined, bad);
  assert.equal(matchingStep(SECRET, `${code.slice(0, 3)} ${code.slice(3)}`, T0), Math.floor(T0 / STEP), 'a space as apps show it');
});

test('recovery codes are read without regard to case, spaces or dashes, and only in their alphabet and length', () => {
  assert.equal(normalizeRecoveryCode('ABCD-EFGH-JKMN-PQRS'), 'abcdefghjkmnpqrs');
  assert.equal(normalizeRecoveryCode('abcd efgh jkmn pqrs'), 'abcdefghjkmnpqrs');
  assert.equal(normalizeRecoveryCode('abcd-efgh-jkmn-pqr'), undefined, 'too short');
  assert.equal(normalizeRecoveryCode('abcd-efgh-jkmn-pqrsz'), undefined, 'too long');
  assert.equal(normalizeRecoveryCode('abcd-efgh-jkmn-pqri'), undefined, 'i is not in the alphabet');
  assert.equal(normalizeRecoveryCode('123456'), undefined, 'a TOTP code is no recovery code');
});

function memoryStore() {
  let totp: (Omit<TotpFactorRow, 'failedCodes'> & { lastStep: number; failedCodes: number }) | undefined;
  const codes = new Map<string, boolean>();
  const store: SecondFactorStore = {
    findTotp: () => Promise.resolve(totp && { secretSealed: totp.secretSealed, failedCodes: totp.failedCodes }),
    confirmTotp(_id, secretSealed, step, hashes) {
      if (totp) return Promise.resolve(false);
      totp = { secretSealed, lastStep: step, failedCodes: 0 };
      codes.clear();
      for (const hash of hashes) codes.set(hash, false);
      return Promise.resolve(true);
    },
    spendStep(_id, step, maxFailed) {
      if (!totp || totp.lastStep >= step || totp.failedCodes >= maxFailed) return Promise.resolve(false);
      totp.lastStep = step;
      totp.failedCodes = 0;
      return Promise.resolve(true);
    },
    countFailedCode() {
      if (!totp) return Promise.resolve(0);
      totp.failedCodes += 1;
      return Promise.resolve(totp.failedCodes);
    },
    spendRecoveryCode(_id, hash) {
      if (codes.get(hash) !== false) return Promise.resolve(false);
      codes.set(hash, true);
      if (totp) totp.failedCodes = 0;
      return Promise.resolve(true);
    },
    recoveryCodesLeft: () => Promise.resolve([...codes.values()].filter((used) => !used).length),
    removeAll() {
      const had = totp !== undefined || codes.size > 0;
      totp = undefined;
      codes.clear();
      return Promise.resolve(had);
    },
    factors: () => Promise.resolve({ totp: totp !== undefined, passkeys: 0, recoveryCodes: [...codes.values()].filter((used) => !used).length }),
    removeTotp: () => Promise.resolve(false),
    replaceRecoveryCodes: () => Promise.resolve(false),
  };
  return { store, codes, stored: () => totp };
}

const SIGN_IN = 'interaction-1';

test('enrolment: the secret is sealed, kept across reloads of its sign-in, confirmed by one code; ten recovery codes stored only as hashes', async () => {
  let now = T0;
  const { store, codes, stored } = memoryStore();
  const sealer = createSealer('unit-test-master-secret-long-enough-0123456789');
  const factors = createSecondFactors({ store, sealer, issuerLabel: 'id.example.com', now: () => now });
  const person = { id: 'a1', email: 'ada@example.com' };
  const enrolment = await factors.startEnrolment(person, SIGN_IN);
  assert.ok(enrolment?.created);
  assert.match(enrolment.uri, /^otpauth:\/\/totp\/id\.example\.com:ada%40example\.com\?/);
  assert.ok(!enrolment.sealed.includes(enrolment.secret), 'kept sealed by the sign-in');
  const reload = await factors.startEnrolment(person, SIGN_IN, enrolment.sealed);
  assert.equal(reload?.secret, enrolment.secret, 'a reload shows the same secret');
  assert.equal(reload.created, false);
  assert.equal(stored(), undefined, 'nothing is stored before the first code');
  assert.equal(await factors.state(person.id), 'none');
  assert.equal(await factors.verify(person.id, codeAt(now, enrolment.secret)).then((outcome) => outcome.ok), false, 'no sign-in with an unconfirmed secret');
  assert.equal(await factors.confirmEnrolment(person.id, SIGN_IN, enrolment.sealed, '000000'), undefined);
  const recovery = await factors.confirmEnrolment(person.id, SIGN_IN, enrolment.sealed, codeAt(now, enrolment.secret));
  assert.equal(recovery?.length, RECOVERY_CODE_COUNT);
  assert.deepEqual([...codes.keys()].sort(), recovery.map((code) => hashRecoveryCode(normalizeRecoveryCode(code)!)).sort());
  assert.ok(!stored()!.secretSealed.includes(enrolment.secret), 'sealed at rest');
  assert.equal(await factors.startEnrolment(person, SIGN_IN), undefined, 'a confirmed secret is never shown again');

  // The code that confirmed is spent; the next step's is good once.
  assert.deepEqual(await factors.verify(person.id, codeAt(now, enrolment.secret)), { ok: false });
  now += STEP;
  assert.deepEqual(await factors.verify(person.id, codeAt(now, enrolment.secret)), { ok: true, method: 'otp' });
  assert.deepEqual(await factors.verify(person.id, codeAt(now, enrolment.secret)), { ok: false });
  assert.deepEqual(await factors.verify(person.id, recovery[0]!), { ok: true, method: 'recovery', recoveryCodesLeft: 9 });
  assert.deepEqual(await factors.verify(person.id, recovery[0]!), { ok: false });

  assert.equal(await factors.reset(person.id), true);
  assert.equal(await factors.state(person.id), 'none');
  assert.equal(await factors.reset(person.id), false);
});

test('an enrolment secret works only in its own sign-in, for its own account, for ten minutes', async () => {
  let now = T0;
  const { store } = memoryStore();
  const sealer = createSealer('unit-test-master-secret-long-enough-0123456789');
  const factors = createSecondFactors({ store, sealer, issuerLabel: 'id.example.com', now: () => now });
  const person = { id: 'a1', email: 'ada@example.com' };
  const planted = (await factors.startEnrolment(person, 'attackers-sign-in'))!;
  // Another sign-in never sees it: it gets its own secret, even handed the sealed one.
  const own = (await factors.startEnrolment(person, SIGN_IN, planted.sealed))!;
  assert.notEqual(own.secret, planted.secret);
  assert.ok(own.created);
  assert.equal(await factors.confirmEnrolment(person.id, SIGN_IN, planted.sealed, codeAt(now, planted.secret)), undefined, 'another sign-in\'s secret');
  assert.equal(await factors.confirmEnrolment('someone-else', 'attackers-sign-in', planted.sealed, codeAt(now, planted.secret)), undefined, 'another account');
  assert.equal(await factors.confirmEnrolment(person.id, SIGN_IN, 'v1.forged.value', codeAt(now, own.secret)), undefined, 'not sealed by us');
  assert.equal(await factors.confirmEnrolment(person.id, SIGN_IN, undefined, codeAt(now, own.secret)), undefined, 'none shown');
  now += 10 * 60_000;
  assert.equal(await factors.confirmEnrolment(person.id, SIGN_IN, own.sealed, codeAt(now, own.secret)), undefined, 'expired after ten minutes');
  const fresh = (await factors.startEnrolment(person, SIGN_IN, own.sealed))!;
  assert.notEqual(fresh.secret, own.secret, 'an expired one is replaced');
  assert.equal((await factors.confirmEnrolment(person.id, SIGN_IN, fresh.sealed, codeAt(now, fresh.secret)))?.length, RECOVERY_CODE_COUNT);
  // Once one is confirmed, no other sign-in's secret can replace it.
  const late = (await factors.startEnrolment(person, 'attackers-sign-in', undefined));
  assert.equal(late, undefined);
  assert.equal(await factors.confirmEnrolment(person.id, 'attackers-sign-in', planted.sealed, codeAt(now - 9 * 60_000, planted.secret)), undefined);
});
