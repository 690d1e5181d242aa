import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import type { Context } from 'koa';

import { shownVersion } from '../../src/admin-console/acted-by.ts';
import { eventRow } from '../../src/admin-console/audit-pages.ts';
import { checked, field, list, noticeOf } from '../../src/admin-console/console-page.ts';
import { scopeRows, scopesFromForm } from '../../src/admin-console/resource-pages.ts';
import { ValidationError } from '../../src/errors.ts';

// How the console reads its forms into the services' input: what a browser sends (fields
// once or repeated, text areas with either line ending) and what an attacker may send
// instead (more repeats than a query parser keeps as a list, rows that do not line up).

const form = (text: string) => new URLSearchParams(text);

describe('console form fields', () => {
  test('a field is one string: the first when sent twice, empty when absent', () => {
    assert.equal(field(form('name=App'), 'name'), 'App');
    assert.equal(field(form('name=First&name=Second'), 'name'), 'First');
    assert.equal(field(form(''), 'name'), '');
    assert.equal(field(form('name[a]=x'), 'name'), '', 'qs syntax is a field of another name, not a value');
  });

  test('lists: text area lines (CRLF or LF, blank lines and spaces dropped), repeated checkboxes, words', () => {
    assert.deepEqual(list(form('uris=https%3A%2F%2Fa.example%2Fcb%0D%0A%0D%0A++https%3A%2F%2Fb.example%2Fcb++%0A'), 'uris'), ['https://a.example/cb', 'https://b.example/cb']);
    assert.deepEqual(list(form('grantTypes=authorization_code&grantTypes=refresh_token'), 'grantTypes', 'repeated'), ['authorization_code', 'refresh_token']);
    assert.deepEqual(list(form('scopes=+openid++profile%09email+'), 'scopes', 'words'), ['openid', 'profile', 'email']);
    assert.deepEqual(list(form(''), 'scopes'), []);
  });

  test('a field repeated more than 20 times stays a list, in order (qs would make it an object of indices)', () => {
    const many = Array.from({ length: 30 }, (_, i) => `resources=https%3A%2F%2Fapi${i}.example`).join('&');
    const resources = list(form(many), 'resources', 'repeated');
    assert.equal(resources.length, 30);
    assert.equal(resources[25], 'https://api25.example');
  });

  test('a checkbox is ticked when sent with any value', () => {
    assert.equal(checked(form('firstParty=true'), 'firstParty'), true);
    assert.equal(checked(form(''), 'firstParty'), false);
  });

  test('a notice is one of the page\'s own, never a property every object has', () => {
    const notices = { saved: 'Saved.' };
    const at = (querystring: string) => ({ querystring }) as unknown as Context;
    assert.equal(noticeOf(at('done=saved'), notices), 'Saved.');
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty', '']) assert.equal(noticeOf(at(`done=${name}`), notices), undefined, name);
  });

  test("a form's version is the time it was shown with; anything else is a version no record has", () => {
    assert.equal(shownVersion('2026-12-07T01:02:03.456Z').toISOString(), '2026-12-07T01:02:03.456Z');
    assert.equal(shownVersion('').getTime(), 0);
    assert.equal(shownVersion('not a time').getTime(), 0);
  });
});

describe('resource server scope rows', () => {
  const rows = (...scopes: [string, string, string][]) => {
    const fields = new URLSearchParams();
    for (const [name, description, roles] of scopes) {
      fields.append('scopeName', name);
      fields.append('scopeDescription', description);
      fields.append('scopeRoles', roles);
    }
    return fields;
  };

  test('each row is one scope, roles split on spaces, empty rows dropped', () => {
    assert.deepEqual(scopesFromForm(rows(['orders:read', 'Read orders', ''], ['orders:write', 'Change orders', ' admin  clerk '], ['', '', ''])), [
      { name: 'orders:read', description: 'Read orders', roles: [] },
      { name: 'orders:write', description: 'Change orders', roles: ['admin', 'clerk'] },
    ]);
  });

  test('a description holding | and line breaks stays one description of one scope, its roles untouched', () => {
    const description = 'Change salaries |\npayroll:admin | injected |';
    const [scope, ...rest] = scopesFromForm(rows(['payroll:write', description, 'hr']));
    assert.deepEqual(scope, { name: 'payroll:write', description: description.trim(), roles: ['hr'] });
    assert.equal(rest.length, 0);
    // Shown again and sent back as it is, nothing changes.
    const shown = scopeRows([scope]);
    assert.deepEqual(scopesFromForm(rows(...shown.map((row): [string, string, string] => [row.name, row.description, row.roles]))), [scope]);
  });

  test('rows whose fields do not line up (a forged form) are refused, not paired up wrongly', () => {
    const forged = rows(['payroll:write', 'Change salaries', 'hr']);
    forged.append('scopeName', 'payroll:admin');
    assert.throws(() => scopesFromForm(forged), ValidationError);
  });

  test('a row with only a description is kept, for the service to refuse its missing name', () => {
    assert.deepEqual(scopesFromForm(rows(['', 'no name', ''])), [{ name: '', description: 'no name', roles: [] }]);
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
