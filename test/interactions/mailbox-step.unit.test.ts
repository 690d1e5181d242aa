import assert from 'node:assert/strict';
import { test } from 'node:test';

import { mailboxStep } from '../../src/interactions/mailbox-step.ts';

// Where a sign-in that must enrol stands between its password and the enrolment: the
// enrolment only once the code came back; the code page only while a code was mailed for
// it; a wait only until it is over (then the password form, never a page stuck on a time
// already past); nothing where mail reaches only the log.

const now = Date.parse('2026-12-05T12:00:00Z');

test('the enrolment only after the mailed code came back', () => {
  assert.equal(mailboxStep({ mailboxProven: true }, now, true), 'enrol');
  assert.equal(mailboxStep({ mailbox: 'sealed' }, now, true), 'code');
});

test('a wait lasts until its time, then the password form (whose success mails a new code)', () => {
  assert.equal(mailboxStep({ mailboxWaitUntil: now + 1 }, now, true), 'wait');
  assert.equal(mailboxStep({ mailboxWaitUntil: now }, now, true), 'password');
  assert.equal(mailboxStep({ mailboxWaitUntil: now - 60_000 }, now, true), 'password');
  assert.equal(mailboxStep({}, now, true), 'password', 'no code ever asked for (the client came to require MFA later)');
});

test('where mail reaches only the log: never a code page nor an enrolment from a code', () => {
  assert.equal(mailboxStep({}, now, false), 'unavailable');
  assert.equal(mailboxStep({ mailbox: 'sealed' }, now, false), 'unavailable');
  assert.equal(mailboxStep({ mailboxWaitUntil: now + 1 }, now, false), 'unavailable');
});
