import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { envSchema } from '../../src/config/schema.ts';

test('.env.example lists exactly the variables the config schema reads, each with a comment', () => {
  const lines = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8').split('\n');
  const names: string[] = [];
  lines.forEach((line, index) => {
    const match = /^([A-Z][A-Z0-9_]*)=/.exec(line);
    if (!match?.[1]) return;
    names.push(match[1]);
    assert.match(lines[index - 1] ?? '', /^# \S/, `${match[1]} has a comment line above it`);
  });
  assert.deepEqual(names.sort(), Object.keys(envSchema.shape).sort());
});
