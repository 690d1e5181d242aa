import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { shownVersion } from '../../src/admin-console/acted-by.ts';
import { eventRow } from '../../src/admin-console/audit-pages.ts';
import { checked, field, list } from '../../src/admin-console/console-page.ts';
import { scopesAsText, scopesFromText } from '../../src/admin-console/resource-pages.ts';

// How the console reads its forms into the services' input: what a browser sends (fields
// once or repeated, text areas with either line ending) and what an attacker may send
// instead (arrays where one value is expected, objects, nothing).

describe('console form fields', () => {
  test('a field is one string: the first when sent twice, empty when absent or not text', () => {
    assert.equal(field({ name: 'App' }, 'name'), 'App');
    assert.equal(field({ name: ['First', 'Second'] }, 'name'), 'First');
    assert.equal(field({}, 'name'), '');
    assert.equal(field(undefined, 'name'), '');
    assert.equal(field({ name: { nested: 'x' } }, 'name'), '', 'a nested object (qs syntax name[a]=x) is not a value');
  });

  test('lists: text area lines (CRLF or LF, blank lines and spaces dropped), repeated checkboxes, words', () => {
    assert.deepEqual(list({ uris: 'https://a.example/cb\r\n\r\n  https://b.example/cb  \n' }, 'uris'), ['https://a.example/cb', 'https://b.example/cb']);
    assert.deepEqual(list({ grantTypes: ['authorization_code', 'refresh_token'] }, 'grantTypes', 'repeated'), ['authorization_code', 'refresh_token']);
    assert.deepEqual(list({ grantTypes: 'client_credentials' }, 'grantTypes', 'repeated'), ['client_credentials']);
    assert.deepEqual(list({ scopes: ' openid  profile\temail ' }, 'scopes', 'words'), ['openid', 'profile', 'email']);
    assert.deepEqual(list({ scopes: [{ a: 1 }, 'openid'] }, 'scopes', 'words'), ['openid'], 'what is not text is left out, never stringified');
    assert.deepEqual(list({}, 'scopes'), []);
  });

  test('a checkbox is ticked when sent with any value', () => {
    assert.equal(checked({ firstParty: 'true' }, 'firstParty'), true);
    assert.equal(checked({}, 'firstParty'), false);
  });

  test("a form's version is the time it was shown with; anything else is a version no record has", () => {
    assert.equal(shownVersion('2026-12-07T01:02:03.456Z').toISOString(), '2026-12-07T01:02:03.456Z');
    assert.equal(shownVersion('').getTime(), 0);
    assert.equal(shownVersion('not a time').getTime(), 0);
  });
});

describe('resource server scopes as text', () => {
  test('one scope per line: name | description | roles, read back as written', () => {
    const scopes = scopesFromText('orders:read | Read orders |\r\norders:write | Change orders | admin  clerk\n\n');
    assert.deepEqual(scopes, [
      { name: 'orders:read', description: 'Read orders', roles: [] },
      { name: 'orders:write', description: 'Change orders', roles: ['admin', 'clerk'] },
    ]);
    assert.deepEqual(scopesFromText(scopesAsText(scopes)), scopes);
  });

  test('a line with only a name has no description and no roles (the service then validates it)', () => {
    assert.deepEqual(scopesFromText('orders:read'), [{ name: 'orders:read', description: '', roles: [] }]);
  });
});

describe('audit rows', () => {
  test("an event's data is one line of JSON, cut at 300 characters", () => {
    const row = eventRow({ id: '7', time: '2026-12-07T00:00:00.000Z', type: 'login.failure', actor: null, accountId: null, clientId: 'app', ip: '203.0.113.9', userAgent: 'x', requestId: null, data: { note: 'n'.repeat(1000) } });
    assert.equal(row.data.length, 300);
    assert.ok(row.data.endsWith('…'));
    assert.equal(row.actor, '');
    assert.equal(eventRow({ ...row, actor: null, accountId: null, clientId: null, ip: null, userAgent: null, requestId: null, data: null }).data, '');
  });
});
