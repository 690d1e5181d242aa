import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { nameSchema } from '../../src/clients/validation.ts';

// The display names every registry input shares (accounts, clients, resource servers): what
// people are shown on consent pages and in apps must be what it looks like.

describe('a display name', () => {
  test('refuses control characters, invisible characters and text-direction overrides', () => {
    for (const name of ['adm\u202Enimda', 'Ann\u200B', 'Ann\u2066Bob\u2069', 'A\u200Fnn', 'Ann\u2060Lee', 'Ann\u0007', 'An\u0000n', 'A\u061Cnn', 'An\u00ADn', 'Ann\u180E', 'Ann\u3164', '\u115FAnn', 'Ann\u{E0041}']) {
      assert.equal(nameSchema.safeParse(name).success, false, JSON.stringify(name));
    }
  });

  test('keeps the joiners scripts spell words with, and names in any script', () => {
    for (const name of ['می\u200Cخواهم', 'क्\u200Dष', 'Zoë Ångström', '李小龍', 'O’Brien-Smith']) {
      assert.equal(nameSchema.safeParse(name).success, true, JSON.stringify(name));
    }
  });
});
