import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { AUDIT_EVENT_TYPES, type AuditEvent } from '../../src/audit/index.ts';

// The catalogue of audit event types is the one list of what the trail holds: the type
// system refuses anything else, the README shows it, and nothing in it is left unrecorded.

const root = new URL('../../', import.meta.url);

test('an event of a type outside the catalogue does not compile', () => {
  // npm test's typecheck fails if this stops being an error (an unused @ts-expect-error is one).
  // @ts-expect-error: key rotation does not exist, so no key.activated event does either.
  const unknown: AuditEvent = { type: 'key.activated' };
  const known: AuditEvent = { type: 'key.created' };
  assert.equal(Object.hasOwn(AUDIT_EVENT_TYPES, unknown.type), false);
  assert.equal(Object.hasOwn(AUDIT_EVENT_TYPES, known.type), true);
});

test("the README's audit event list is the catalogue, in its order", () => {
  const readme = readFileSync(new URL('README.md', root), 'utf8');
  const section = readme.slice(readme.indexOf('### Audit events'));
  // Up to the next heading: the Metrics table that follows has rows of the same shape.
  const listed = [...section.slice(0, section.slice(1).search(/\n#{2,3} /) + 1).matchAll(/^\| `([a-z_.]+)` \| (.+) \|$/gm)];
  assert.deepEqual(
    listed.map(([, type, meaning]) => [type, meaning]),
    Object.entries(AUDIT_EVENT_TYPES),
  );
});

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'generated' ? [] : sources(path);
    return entry.name.endsWith('.ts') && !path.endsWith(join('audit', 'event-types.ts')) ? [path] : [];
  });
}

test('every catalogued type is recorded somewhere in src/: the list promises no event nothing writes', () => {
  const code = sources(new URL('src', root).pathname)
    .map((file) => readFileSync(file, 'utf8'))
    .join('\n');
  const unrecorded = Object.keys(AUDIT_EVENT_TYPES).filter((type) => !code.includes(`'${type}'`));
  assert.deepEqual(unrecorded, []);
});
