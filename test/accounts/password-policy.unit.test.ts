import assert from 'node:assert/strict';
import { test } from 'node:test';

import { MAX_PASSWORD_BYTES, newPasswordProblem, passwordProblem } from '../../src/accounts/index.ts';
import { STRENGTH_PREFIX } from '../../src/accounts/password-policy.ts';

// The password policy: length everywhere; for a password a person chooses, not guessable
// (zxcvbn-ts with its common dictionaries, the account's own words counted as guessable).

test('a password must be 8 characters long and at most the hashing limit in bytes', () => {
  assert.equal(passwordProblem('1234567'), 'too_short');
  assert.equal(passwordProblem('ééééééé'), 'too_short', 'characters, not bytes, for the minimum');
  assert.equal(passwordProblem('x'.repeat(MAX_PASSWORD_BYTES)), undefined);
  assert.equal(passwordProblem('é'.repeat(MAX_PASSWORD_BYTES / 2 + 1)), 'too_long', 'bytes for the maximum');
});

test('a chosen password is refused when it is common, a keyboard walk, or made of the account own words', async () => {
  for (const common of ['password123', 'qwertyuiop', 'P@ssw0rd!', 'iloveyou1', '11111111']) {
    assert.equal(await newPasswordProblem(common), 'too_common', common);
  }
  assert.equal(await newPasswordProblem('marguerite1987', ['marguerite.dupont@example.com', 'Marguerite Dupont']), 'too_common');
  for (const fine of ['correct horse battery staple', 'a brand new password, also long', 'tulip-engine-cobalt-41']) {
    assert.equal(await newPasswordProblem(fine), undefined, fine);
  }
  assert.equal(await newPasswordProblem('short'), 'too_short', 'the length rules first');
});

test('only the first 64 characters are judged: a 1,024-byte password costs zxcvbn what 64 characters do', async () => {
  // zxcvbn's time grows steeply with length (~250 ms of CPU at 1,024 bytes), and a link may be tried again and again.
  const judged: string[] = [];
  const estimate = (password: string) => (judged.push(password), 4);
  const long = 'tulip-engine-cobalt-41 '.repeat(50).slice(0, MAX_PASSWORD_BYTES);
  assert.equal(await newPasswordProblem(long, [], estimate), undefined);
  assert.deepEqual(judged, [long.slice(0, STRENGTH_PREFIX)]);
  // Characters, not UTF-16 units: an emoji is never cut in half.
  judged.length = 0;
  await newPasswordProblem('😀'.repeat(200), [], estimate);
  assert.equal([...judged[0]!].length, STRENGTH_PREFIX);
  assert.equal(judged[0], '😀'.repeat(STRENGTH_PREFIX));
  // The real estimator still refuses what is guessable in its first characters.
  assert.equal(await newPasswordProblem('password'.repeat(128)), 'too_common');
});
