import assert from 'node:assert/strict';
import { test } from 'node:test';

import { parseSince } from '../../src/cli/events-command.ts';

// `portcullis events --since`: a time or a duration ago, and only times Postgres can hold
// (JavaScript's Date holds year 0 and beyond; Postgres refuses them with an error).

const now = Date.parse('2026-12-05T12:00:00Z');

test('a time, a date, or a duration ago', () => {
  assert.equal(parseSince('2026-12-01T00:00:00Z', now).toISOString(), '2026-12-01T00:00:00.000Z');
  assert.equal(parseSince('2026-12-01', now).toISOString(), '2026-12-01T00:00:00.000Z');
  assert.equal(parseSince('30m', now).toISOString(), '2026-12-05T11:30:00.000Z');
  assert.equal(parseSince('7d', now).toISOString(), '2026-11-28T12:00:00.000Z');
});

test('refused: not a time, year 0, or a duration reaching before year 1 or beyond a Date', () => {
  for (const value of ['yesterday', '0000-01-01T00:00:00Z', '0000-06-01', '1000000d', '99999999999w', '']) {
    assert.throws(() => parseSince(value, now), /expected an ISO date or time/, value);
  }
});
