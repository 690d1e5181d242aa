import assert from 'node:assert/strict';
import { test } from 'node:test';

import { createMailboxProofs, MAILBOX_CODE_DIGITS, MAILBOX_CODE_TTL_MS } from '../../src/accounts/mailbox-proof.ts';
import { createSealer } from '../../src/crypto/index.ts';

// The code mailed before a first enrolment works only for its account, its sign-in and its
// ten minutes, however it is copied; nothing else sealed by the same key passes for it.

const sealer = createSealer('unit-test-master-secret-long-enough-0123456789');
let now = Date.parse('2026-12-05T12:00:00Z');
const proofs = createMailboxProofs({ sealer, now: () => now });

test('a mailed code has ten random digits in groups of five, and each issue makes a new one', () => {
  const codes = Array.from({ length: 50 }, () => proofs.issue('account-1', 'uid-1').code);
  for (const code of codes) assert.match(code, /^\d{5} \d{5}$/);
  assert.equal(MAILBOX_CODE_DIGITS, 10);
  assert.ok(new Set(codes).size >= 49, 'codes do not repeat');
  const { sealed, code } = proofs.issue('account-1', 'uid-1');
  assert.ok(!sealed.includes(code.replace(' ', '')), 'the sealed copy does not show the code');
});

test('the right code passes as typed: with or without its space, with dashes', () => {
  const { code, sealed } = proofs.issue('account-1', 'uid-1');
  const digits = code.replace(' ', '');
  for (const typed of [code, digits, `${digits.slice(0, 5)}-${digits.slice(5)}`, ` ${code} `]) assert.equal(proofs.check('account-1', 'uid-1', sealed, typed), true, typed);
});

test('refused: a wrong, short, long or empty code; another account or sign-in; no sealed copy; a tampered one', () => {
  const { code, sealed } = proofs.issue('account-1', 'uid-1');
  const digits = code.replace(' ', '');
  const wrong = `${digits.slice(0, 9)}${(Number(digits[9]) + 1) % 10}`;
  for (const typed of [wrong, digits.slice(0, 9), `${digits}0`, '', 'abcdefghij']) assert.equal(proofs.check('account-1', 'uid-1', sealed, typed), false, typed);
  assert.equal(proofs.check('account-2', 'uid-1', sealed, code), false, 'another account');
  assert.equal(proofs.check('account-1', 'uid-2', sealed, code), false, 'another sign-in');
  assert.equal(proofs.check('account-1', 'uid-1', undefined, code), false, 'none mailed');
  assert.equal(proofs.check('account-1', 'uid-1', `${sealed.slice(0, -2)}AA`, code), false, 'tampered');
  assert.equal(proofs.check('account-1', 'uid-1', 'not sealed at all', code), false);
});

test('a code works for ten minutes from its mail, not a moment longer, and not from the future', () => {
  const { code, sealed } = proofs.issue('account-1', 'uid-1');
  const issued = now;
  now = issued + MAILBOX_CODE_TTL_MS - 1;
  assert.equal(proofs.check('account-1', 'uid-1', sealed, code), true);
  now = issued + MAILBOX_CODE_TTL_MS;
  assert.equal(proofs.check('account-1', 'uid-1', sealed, code), false);
  now = issued - 1;
  assert.equal(proofs.check('account-1', 'uid-1', sealed, code), false);
  now = issued;
});

test('something else sealed by the same key (an enrolment secret, a guess of the shape) never passes as a proof', () => {
  const enrolment = sealer.seal(JSON.stringify({ account: 'account-1', binding: 'uid-1', secret: '1234567890', issuedAt: now }));
  assert.equal(proofs.check('account-1', 'uid-1', enrolment, '1234567890'), false);
  const otherPurpose = sealer.seal(JSON.stringify({ purpose: 'reset', account: 'account-1', binding: 'uid-1', code: '1234567890', issuedAt: now }));
  assert.equal(proofs.check('account-1', 'uid-1', otherPurpose, '1234567890'), false);
});
