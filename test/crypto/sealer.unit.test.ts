import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { createSealer, SealedSecretError } from '../../src/crypto/index.ts';

const MASTER = 'master-secret-for-the-sealer-tests-0123456789';
const SECRET = 'client-secret-Zx9Q-very-private';

function assertUnreadable(open: () => unknown, leaked: string[] = [SECRET]): void {
  assert.throws(open, (error: unknown) => {
    assert.ok(error instanceof SealedSecretError, `expected SealedSecretError, got ${String(error)}`);
    assert.equal(error.code, 'sealed_secret_unreadable');
    assert.equal(error.expose, false);
    for (const value of leaked) assert.ok(!error.message.includes(value), `message leaks ${value}`);
    return true;
  });
}

/** Flips one bit of the decoded byte at `index` of part `part` (1 = iv, 2 = ciphertext+tag). */
function flipByte(sealed: string, part: 1 | 2, index: number): string {
  const parts = sealed.split('.');
  const bytes = Buffer.from(parts[part]!, 'base64url');
  bytes[index < 0 ? bytes.length + index : index]! ^= 0x01;
  parts[part] = bytes.toString('base64url');
  return parts.join('.');
}

describe('sealer', () => {
  test('a sealed value opens to the original', () => {
    const sealer = createSealer(MASTER);
    for (const value of [SECRET, '', 'ünïcødé ✓ 🔑', 'x'.repeat(10_000)]) {
      assert.equal(sealer.open(sealer.seal(value)), value);
    }
  });

  test('a value sealed by one sealer opens with another built from the same master secret', () => {
    assert.equal(createSealer(MASTER).open(createSealer(MASTER).seal(SECRET)), SECRET);
  });

  test('the sealed form is versioned and does not contain the plaintext', () => {
    const sealed = createSealer(MASTER).seal(SECRET);
    assert.match(sealed, /^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    assert.ok(!sealed.includes(SECRET));
    assert.ok(!sealed.includes(Buffer.from(SECRET).toString('base64url')));
  });

  test('two seals of one value differ (fresh IV each time)', () => {
    const sealer = createSealer(MASTER);
    const first = sealer.seal(SECRET);
    const second = sealer.seal(SECRET);
    assert.notEqual(first, second);
    assert.notEqual(first.split('.')[1], second.split('.')[1]);
    assert.equal(sealer.open(first), sealer.open(second));
  });

  test('a different master secret cannot open it, and the error names neither secret', () => {
    const sealed = createSealer(MASTER).seal(SECRET);
    assertUnreadable(() => createSealer(`${MASTER}-other`).open(sealed), [SECRET, MASTER]);
  });

  test('a tampered ciphertext, tag or IV fails to open', () => {
    const sealer = createSealer(MASTER);
    const sealed = sealer.seal(SECRET);
    assertUnreadable(() => sealer.open(flipByte(sealed, 2, 0)));
    assertUnreadable(() => sealer.open(flipByte(sealed, 2, -1)));
    assertUnreadable(() => sealer.open(flipByte(sealed, 1, 0)));
  });

  test('a truncated sealed value fails to open', () => {
    const sealer = createSealer(MASTER);
    const [version, iv, body] = sealer.seal(SECRET).split('.');
    const shorter = Buffer.from(body!, 'base64url').subarray(1).toString('base64url');
    assertUnreadable(() => sealer.open(`${version}.${iv}.${shorter}`));
  });

  test('malformed strings fail with SealedSecretError, never another error', () => {
    const sealer = createSealer(MASTER);
    const [, iv, body] = sealer.seal(SECRET).split('.');
    for (const malformed of [
      '',
      'garbage',
      'v1',
      'v1..',
      `v1.${iv}.`,
      `v1..${body}`,
      `v2.${iv}.${body}`,
      `v1.AAAA.${body}`,
      `v1.${iv}.AAAA`,
      '...',
    ]) {
      assertUnreadable(() => sealer.open(malformed));
    }
  });
});
