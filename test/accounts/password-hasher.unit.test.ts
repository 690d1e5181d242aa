import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { hash as argon2Hash, type Algorithm } from '@node-rs/argon2';

import { createArgon2Hasher, OWASP_ARGON2ID } from '../../src/accounts/index.ts';

const CHEAP = { memoryCost: 1024, timeCost: 1, parallelism: 1 };

describe('argon2 password hasher', () => {
  const hasher = createArgon2Hasher();

  test('defaults to argon2id with the OWASP parameters m=19456, t=2, p=1', async () => {
    assert.deepEqual({ ...OWASP_ARGON2ID }, { memoryCost: 19456, timeCost: 2, parallelism: 1 });
    const hash = await hasher.hash('correct horse battery staple');
    assert.match(hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
  });

  test('two hashes of one password differ (random salt), and both verify', async () => {
    const [first, second] = await Promise.all([hasher.hash('same password'), hasher.hash('same password')]);
    assert.notEqual(first, second);
    assert.equal(await hasher.verify(first, 'same password'), true);
    assert.equal(await hasher.verify(second, 'same password'), true);
  });

  test('verify is true for the right password and false for a wrong one', async () => {
    const hash = await hasher.hash('correct horse battery staple');
    assert.equal(await hasher.verify(hash, 'correct horse battery staple'), true);
    assert.equal(await hasher.verify(hash, 'correct horse battery stapl'), false);
    assert.equal(await hasher.verify(hash, 'Correct horse battery staple'), false);
    assert.equal(await hasher.verify(hash, ''), false);
  });

  test('a hash made with other parameters still verifies', async () => {
    const weak = await createArgon2Hasher(CHEAP).hash('pass word 1');
    assert.equal(await hasher.verify(weak, 'pass word 1'), true);
  });

  test('a malformed hash verifies false instead of throwing', async () => {
    for (const malformed of ['', 'not-a-hash', '$argon2id$v=19$m=19456,t=2,p=1$bm90YXNhbHQ$', '$2b$10$abcdefghijklmnopqrstuv']) {
      assert.equal(await hasher.verify(malformed, 'anything'), false, malformed);
    }
  });

  test('needsRehash is true for a hash made with weaker parameters', async () => {
    const weak = await createArgon2Hasher(CHEAP).hash('pass word 1');
    assert.match(weak, /\$m=1024,t=1,p=1\$/);
    assert.equal(hasher.needsRehash(weak), true);
  });

  test('needsRehash is true when only the time cost is lower', async () => {
    const lowerTime = await createArgon2Hasher({ memoryCost: 19456, timeCost: 1, parallelism: 1 }).hash('pass word 1');
    assert.equal(hasher.needsRehash(lowerTime), true);
  });

  test('needsRehash is false for a hash made with the current parameters', async () => {
    assert.equal(hasher.needsRehash(await hasher.hash('pass word 1')), false);
  });

  test('needsRehash is false for a hash stronger than the current parameters', async () => {
    const cheap = createArgon2Hasher(CHEAP);
    assert.equal(cheap.needsRehash(await hasher.hash('pass word 1')), false);
  });

  test('needsRehash is true for another argon2 variant (argon2i) and for a malformed hash', async () => {
    const argon2i = await argon2Hash('pass word 1', { algorithm: 1 as Algorithm, ...OWASP_ARGON2ID });
    assert.match(argon2i, /^\$argon2i\$/);
    assert.equal(hasher.needsRehash(argon2i), true);
    assert.equal(hasher.needsRehash('not-a-hash'), true);
  });
});
