import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { normalizeEmail } from '../../src/accounts/index.ts';
import { ValidationError } from '../../src/errors.ts';

function assertRejected(input: string): void {
  assert.throws(
    () => normalizeEmail(input),
    (error: unknown) => {
      assert.ok(error instanceof ValidationError, `expected ValidationError for ${JSON.stringify(input)}`);
      assert.match(error.message, /^email:/);
      return true;
    },
    JSON.stringify(input),
  );
}

describe('normalizeEmail', () => {
  test('lower-cases the whole address', () => {
    assert.equal(normalizeEmail('Ann.Lee@Example.COM'), 'ann.lee@example.com');
  });

  test('trims surrounding whitespace, including tabs and newlines', () => {
    assert.equal(normalizeEmail('  ann@example.com \t\n'), 'ann@example.com');
  });

  test('folds compatibility forms with NFKC, so full-width and plain spellings are one address', () => {
    assert.equal(normalizeEmail('ＡＮＮ＠ｅｘａｍｐｌｅ．ｃｏｍ'), 'ann@example.com');
    // "ﬁ" (U+FB01 ligature) folds to "fi".
    assert.equal(normalizeEmail('\uFB01n@example.com'), 'fin@example.com');
  });

  test('composed and decomposed accents normalise to the same address', () => {
    assert.equal(normalizeEmail('jose\u0301@example.com'), normalizeEmail('jos\u00e9@example.com'));
  });

  test('is idempotent', () => {
    const once = normalizeEmail(' Ｍixed@Example.Org ');
    assert.equal(normalizeEmail(once), once);
  });

  test('accepts plus addressing and subdomains unchanged apart from case', () => {
    assert.equal(normalizeEmail('a.b+tag@mail.Example.co.uk'), 'a.b+tag@mail.example.co.uk');
  });

  test('rejects shapes that are not an address', () => {
    for (const input of ['', '   ', 'ann', 'ann@', '@example.com', 'ann@example', 'ann@@example.com', 'a@b@example.com', 'ann@example.']) {
      assertRejected(input);
    }
  });

  test('rejects whitespace inside the address', () => {
    for (const input of ['ann lee@example.com', 'ann@exa mple.com', 'ann\t@example.com', 'ann\u00a0@example.com']) {
      assertRejected(input);
    }
  });

  test('rejects control characters', () => {
    for (const input of ['ann\u0000@example.com', 'ann@example.com\u0007x', 'an\u007fn@example.com', 'ann@exa\u0085mple.com']) {
      assertRejected(input);
    }
  });

  test('accepts 254 characters and rejects 255', () => {
    const domain = '@example.com';
    const exact = `${'a'.repeat(254 - domain.length)}${domain}`;
    assert.equal(exact.length, 254);
    assert.equal(normalizeEmail(exact), exact);
    assertRejected(`a${exact}`);
  });

  test('measures length after normalisation', () => {
    // Surrounding spaces do not count, as they are trimmed first.
    const domain = '@example.com';
    const exact = `${'a'.repeat(254 - domain.length)}${domain}`;
    assert.equal(normalizeEmail(`   ${exact}   `), exact);
  });
});
