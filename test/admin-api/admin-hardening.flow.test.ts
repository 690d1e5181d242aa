import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import * as oidc from 'openid-client';

import { translatePrismaError } from '../../src/db/index.ts';
import { ValidationError } from '../../src/errors.ts';
import { adminPersonToken, newAdminTestPerson, sendAdminRequest, type AdminCallOptions } from '../helpers/admin-api-calls.ts';
import { basicAuth } from '../helpers/token-endpoint.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// The admin API as an attacker found it wanting (review of 2026-12-05), each case the way
// it was broken: a token that outlives the role or registration it was issued for, two
// writes holding the same ETag, an admin locking administration out, input that reached
// Postgres or zlib, refusals that cost an audit row each, and the API on by default.

const REDIRECT = 'http://localhost:8080/callback';
const insecure = { execute: [oidc.allowInsecureRequests] };

let server: TestServer;
let base: string;
let adminResource: string;
let web: oidc.Configuration;
const ids: Record<string, { id: string; secret: string }> = {};

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Record<string, unknown>;
}

async function call(url: string, method: string, options: AdminCallOptions = {}): Promise<Answer> {
  const response = await sendAdminRequest(url, method, options);
  let parsed: Record<string, unknown> = {};
  if (response.text && /json/.test(response.headers.get('content-type') ?? '')) parsed = JSON.parse(response.text) as Record<string, unknown>;
  return { status: response.status, headers: response.headers, body: parsed };
}

const api = (method: string, path: string, options: Parameters<typeof call>[2] = {}) => call(`${base}${path}`, method, options);

async function register(name: string, input: Record<string, unknown>) {
  const created = await server.services.clients.create(input);
  ids[name] = { id: created.client.clientId, secret: created.clientSecret! };
}

async function tokenResponse(name: string, scope = 'admin:read admin:write') {
  const { id, secret } = ids[name]!;
  return fetch(`${server.issuer}/token`, {
    method: 'POST',
    headers: { authorization: basicAuth(id, secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource: adminResource, scope }),
  });
}

async function clientToken(name: string, scope?: string): Promise<string> {
  const response = await tokenResponse(name, scope);
  const answer = (await response.json()) as { access_token: string };
  assert.equal(response.status, 200, JSON.stringify(answer));
  return answer.access_token;
}

const newPerson = (roles: string[] = []) => newAdminTestPerson(server, 'hardening', roles);
const personToken = (person: { email: string; password: string }): Promise<{ access_token: string; scope?: string }> => adminPersonToken(web, adminResource, person);

function assertProblem(answer: Answer, status: number, code?: string) {
  assert.equal(answer.status, status, JSON.stringify(answer.body));
  assert.match(answer.headers.get('content-type') ?? '', /^application\/problem\+json/);
  if (code) assert.equal(answer.body.code, code);
}

/** A refusal as the token check gives it: the problem, and the RFC 6750 challenge naming the error. */
function assertTokenRefusal(answer: Answer, status: 401 | 403, error: 'invalid_token' | 'insufficient_scope') {
  assertProblem(answer, status, error);
  assert.match(answer.headers.get('www-authenticate') ?? '', new RegExp(`^Bearer .*error="${error}"`));
}

async function clientCount(token: string): Promise<number> {
  return ((await api('GET', '/clients', { token })).body.clients as unknown[]).length;
}

async function etagOf(path: string, token: string): Promise<string> {
  const read = await api('GET', path, { token });
  assert.equal(read.status, 200);
  return read.headers.get('etag')!;
}

let write: string;

before(async () => {
  server = await startTestServer({ ADMIN_API: 'true' });
  base = `${server.issuer}/admin/api/v1`;
  adminResource = `${server.issuer}/admin`;
  await register('automation', { type: 'service', name: 'Automation', resources: [adminResource], scopes: ['admin:read', 'admin:write'] });
  await register('console', { type: 'web', name: 'Console', redirectUris: [REDIRECT], resources: [adminResource], scopes: ['openid', 'admin:read', 'admin:write'], firstParty: true });
  web = await oidc.discovery(new URL(server.issuer), ids.console!.id, undefined, oidc.ClientSecretBasic(ids.console!.secret), insecure);
  write = await clientToken('automation');
});

after(async () => {
  await server?.close();
});

describe('an admin token carries no more than its subject holds now', () => {
  test('a person whose admin role was removed cannot use their still-valid token, to write or to read', async () => {
    const admin = await newPerson(['admin']);
    const { access_token: token } = await personToken(admin);
    assert.equal((await api('GET', '/users', { token })).status, 200);
    await server.services.accounts.update(admin.id, { roles: ['staff'] });
    const before = await clientCount(write);
    const created = await api('POST', '/clients', { token, body: { type: 'service', name: 'Kept access', resources: [adminResource], scopes: ['admin:read', 'admin:write'] } });
    assertTokenRefusal(created, 403, 'insufficient_scope');
    assert.equal(created.body.clientSecret, undefined);
    assert.equal(await clientCount(write), before);
    assertTokenRefusal(await api('GET', '/users', { token }), 403, 'insufficient_scope');
    // The role given back: the same token works again (nothing about it was revoked).
    await server.services.accounts.update(admin.id, { roles: ['admin'] });
    assert.equal((await api('GET', '/users', { token })).status, 200);
  });

  test('a disabled person\'s token is refused as invalid', async () => {
    const admin = await newPerson(['admin']);
    const { access_token: token } = await personToken(admin);
    await server.services.accounts.setDisabled(admin.id, true);
    assertTokenRefusal(await api('GET', '/users', { token }), 401, 'invalid_token');
  });

  test('a client whose scopes were reduced to admin:read can still read, no longer write', async () => {
    await register('downgraded', { type: 'service', name: 'Downgraded', resources: [adminResource], scopes: ['admin:read', 'admin:write'] });
    const token = await clientToken('downgraded');
    const path = `/clients/${ids.downgraded!.id}`;
    const reduced = await api('PATCH', path, { token: write, body: { scopes: ['admin:read'] }, headers: { 'if-match': await etagOf(path, write) } });
    assert.equal(reduced.status, 200);
    const before = await clientCount(write);
    assertTokenRefusal(await api('POST', '/clients', { token, body: { type: 'service', name: 'After the downgrade' } }), 403, 'insufficient_scope');
    assert.equal(await clientCount(write), before);
    assert.equal((await api('GET', '/clients', { token })).status, 200);
  });

  test('a client whose admin resource was removed can no longer read', async () => {
    await register('unlisted', { type: 'service', name: 'Unlisted', resources: [adminResource], scopes: ['admin:read'] });
    const token = await clientToken('unlisted', 'admin:read');
    assert.equal((await api('GET', '/users', { token })).status, 200);
    const path = `/clients/${ids.unlisted!.id}`;
    const removed = await api('PATCH', path, { token: write, body: { resources: [], scopes: [] }, headers: { 'if-match': await etagOf(path, write) } });
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
    assertTokenRefusal(await api('GET', '/users', { token }), 403, 'insufficient_scope');
  });

  test('a rotated secret ends the tokens got with the old one; the new secret gets working ones', async () => {
    await register('rotated', { type: 'service', name: 'Rotated', resources: [adminResource], scopes: ['admin:read', 'admin:write'] });
    const old = await clientToken('rotated');
    const rotated = await api('POST', `/clients/${ids.rotated!.id}/secret`, { token: write });
    assert.equal(rotated.status, 200);
    assertTokenRefusal(await api('GET', '/users', { token: old }), 401, 'invalid_token');
    ids.rotated = { id: ids.rotated!.id, secret: rotated.body.clientSecret as string };
    assert.equal((await api('GET', '/users', { token: await clientToken('rotated') })).status, 200);
  });

  test('a deleted client\'s token is refused as invalid', async () => {
    await register('deleted', { type: 'service', name: 'Deleted', resources: [adminResource], scopes: ['admin:read'] });
    const token = await clientToken('deleted', 'admin:read');
    assert.equal((await api('DELETE', `/clients/${ids.deleted!.id}`, { token: write })).status, 204);
    assertTokenRefusal(await api('GET', '/users', { token }), 401, 'invalid_token');
  });
});

describe('If-Match is checked by the write itself', () => {
  const BURST = 8;

  test('a burst of PATCHes to one client with the same ETag: exactly one 200, the rest 412, its change stands', async () => {
    const created = await api('POST', '/clients', { token: write, body: { type: 'service', name: 'Raced', resources: [adminResource], scopes: ['admin:read', 'admin:write'] } });
    const path = `/clients/${(created.body.client as { clientId: string }).clientId}`;
    const etag = await etagOf(path, write);
    const answers = await Promise.all(
      Array.from({ length: BURST }, (_, i) => api('PATCH', path, { token: write, body: i === 0 ? { scopes: ['admin:read'] } : { name: `Racer ${i}` }, headers: { 'if-match': etag } })),
    );
    const won = answers.filter((answer) => answer.status === 200);
    assert.equal(won.length, 1, answers.map((answer) => answer.status).join(' '));
    for (const answer of answers.filter((answer) => answer.status !== 200)) assertProblem(answer, 412, 'precondition_failed');
    // What stands is exactly what the one 200 answered: no change was half-applied or lost.
    const final = (await api('GET', path, { token: write })).body;
    assert.deepEqual(final, won[0]!.body);
  });

  test('a burst of PATCHes to one user with the same ETag: exactly one 200, the rest 412, its change stands', async () => {
    const person = await newPerson(['staff']);
    const path = `/users/${person.id}`;
    const etag = await etagOf(path, write);
    const answers = await Promise.all(
      Array.from({ length: BURST }, (_, i) => api('PATCH', path, { token: write, body: i === 0 ? { roles: ['staff', 'auditor'] } : { name: `Racer ${i}` }, headers: { 'if-match': etag } })),
    );
    const won = answers.filter((answer) => answer.status === 200);
    assert.equal(won.length, 1, answers.map((answer) => answer.status).join(' '));
    for (const answer of answers.filter((answer) => answer.status !== 200)) assertProblem(answer, 412, 'precondition_failed');
    assert.deepEqual((await api('GET', path, { token: write })).body, won[0]!.body);
  });

  test('If-Match: * still changes whatever version is current', async () => {
    const person = await newPerson();
    const changed = await api('PATCH', `/users/${person.id}`, { token: write, body: { name: 'Any version' }, headers: { 'if-match': '*' } });
    assert.equal(changed.status, 200);
    assert.equal(changed.body.name, 'Any version');
  });
});

describe('administration stays possible', () => {
  test('an admin cannot disable themself or remove their own admin role: 409, nothing changed', async () => {
    const admin = await newPerson(['admin']);
    await newPerson(['admin']); // not the last admin: the refusal is about themself
    const { access_token: token } = await personToken(admin);
    const path = `/users/${admin.id}`;
    assertProblem(await api('POST', `${path}/disable`, { token }), 409, 'conflict');
    assertProblem(await api('PATCH', path, { token, body: { roles: ['staff'] }, headers: { 'if-match': await etagOf(path, token) } }), 409, 'conflict');
    const now = await server.services.accounts.findById(admin.id);
    assert.equal(now?.disabled, false);
    assert.deepEqual(now?.roles, ['admin']);
    // Other changes to themself are theirs to make.
    const renamed = await api('PATCH', path, { token, body: { name: 'Renamed', roles: ['admin', 'staff'] }, headers: { 'if-match': await etagOf(path, token) } });
    assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
  });

  test('the last enabled admin cannot be demoted or disabled, even by automation; two concurrent demotions leave one admin', async () => {
    // Start from exactly two enabled admins (the CLI's service has no such guard).
    for (const account of await server.services.accounts.list()) {
      if (account.roles.includes('admin') && !account.disabled) await server.services.accounts.update(account.id, { roles: [] });
    }
    const [first, second] = [await newPerson(['admin']), await newPerson(['admin'])];
    const demote = async (id: string) => api('PATCH', `/users/${id}`, { token: write, body: { roles: [] }, headers: { 'if-match': await etagOf(`/users/${id}`, write) } });
    const answers = await Promise.all([demote(first.id), demote(second.id)]);
    assert.deepEqual(answers.map((answer) => answer.status).sort(), [200, 409], JSON.stringify(answers.map((answer) => answer.body)));
    const admins = (await server.services.accounts.list()).filter((account) => account.roles.includes('admin') && !account.disabled);
    assert.equal(admins.length, 1);
    const last = admins[0]!;
    assertProblem(await demote(last.id), 409, 'conflict');
    assertProblem(await api('POST', `/users/${last.id}/disable`, { token: write }), 409, 'conflict');
    assert.equal((await server.services.accounts.findById(last.id))?.disabled, false);
    // With another admin, the same changes go through.
    const third = await newPerson(['admin']);
    assert.equal((await api('POST', `/users/${last.id}/disable`, { token: write })).status, 200);
    assertProblem(await api('POST', `/users/${third.id}/disable`, { token: write }), 409, 'conflict');
  });
});

describe('input that reached Postgres or zlib is refused as input', () => {
  test('NUL and control characters in names, redirect URIs and the search: 400 naming the field', async () => {
    const before = await clientCount(write);
    const user = await api('POST', '/users', { token: write, body: { email: `nul-${randomUUID().slice(0, 6)}@example.com`, name: 'a\u0000b' } });
    assertProblem(user, 400, 'invalid_input');
    assert.deepEqual((user.body.errors as { pointer: string }[]).map((entry) => entry.pointer), ['#/name']);
    const client = await api('POST', '/clients', { token: write, body: { type: 'service', name: 'a\u0000b' } });
    assertProblem(client, 400, 'invalid_input');
    assert.deepEqual((client.body.errors as { pointer: string }[]).map((entry) => entry.pointer), ['#/name']);
    assertProblem(await api('POST', '/clients', { token: write, body: { type: 'service', name: 'line\nbreak' } }), 400, 'invalid_input');
    const uri = await api('POST', '/clients', { token: write, body: { type: 'web', name: 'x', redirectUris: ['https://a.example/\u0000'] } });
    assertProblem(uri, 400, 'invalid_input');
    assert.ok((uri.body.errors as { pointer: string }[]).some((entry) => entry.pointer === '#/redirectUris/0'), JSON.stringify(uri.body));
    const person = await newPerson();
    const path = `/users/${person.id}`;
    assertProblem(await api('PATCH', path, { token: write, body: { name: 'x\u0000' }, headers: { 'if-match': await etagOf(path, write) } }), 400, 'invalid_input');
    assertProblem(await api('GET', '/users?search=%00', { token: write }), 400, 'invalid_input');
    assertProblem(await api('GET', '/users?search=a%00b', { token: write }), 400, 'invalid_input');
    assert.equal(await clientCount(write), before);
  });

  test('the CLI\'s services refuse the same names (the schemas are shared)', async () => {
    await assert.rejects(server.services.accounts.create({ email: `nul-${randomUUID().slice(0, 6)}@example.com`, name: 'a\u0000b' }), ValidationError);
    await assert.rejects(server.services.clients.create({ type: 'service', name: 'a\u0000b' }), ValidationError);
  });

  test('a NUL that reaches Postgres all the same (22021) is translated to a 400, not a 500', async () => {
    const failure = await server.database.prisma.account.findMany({ where: { name: { contains: 'a\u0000b' } } }).then(
      () => undefined,
      (error: unknown) => error,
    );
    assert.ok(failure, 'Postgres refuses a NUL in text');
    const translated = translatePrismaError(failure, 'account');
    assert.ok(translated instanceof ValidationError, String(translated));
    assert.equal(translated.status, 400);
  });

  test('a compressed body (gzip, br, deflate), whatever it holds: 415, nothing written', async () => {
    const before = await clientCount(write);
    for (const encoding of ['gzip', 'br', 'deflate', 'identity, gzip']) {
      const answer = await api('POST', '/clients', { token: write, raw: '{"type":"service","name":"x"}', headers: { 'content-encoding': encoding } });
      assertProblem(answer, 415, 'unsupported_media_type');
    }
    assert.equal((await api('POST', '/clients', { token: write, raw: '{"type":"service","name":"plain"}', headers: { 'content-encoding': 'identity' } })).status, 201);
    assert.equal(await clientCount(write), before + 1);
  });
});

describe('a method a path does not serve', () => {
  test('is a 405 problem naming the methods it serves, before any token is looked at', async () => {
    for (const [method, path] of [['PUT', '/settings'], ['DELETE', '/users'], ['POST', '/openapi.json'], ['PATCH', '/clients']] as const) {
      const answer = await api(method, path, { token: write, ...(method !== 'DELETE' && { body: {} }) });
      assertProblem(answer, 405, 'method_not_allowed');
      assert.match(answer.headers.get('allow') ?? '', /GET/, `${method} ${path}`);
      assert.equal(answer.headers.get('cache-control'), 'no-store');
    }
    assertProblem(await api('PUT', '/settings'), 405, 'method_not_allowed');
    // The router matches paths in any case; so does the problem.
    assertProblem(await call(`${server.issuer}/ADMIN/API/v1/clients`, 'DELETE', { token: write }), 405, 'method_not_allowed');
    // Paths outside the API keep the pages' answers.
    const page = await fetch(`${server.issuer}/password-reset`, { method: 'DELETE' });
    assert.doesNotMatch(page.headers.get('content-type') ?? '', /problem/);
  });
});

describe('refusals are cheap', () => {
  test('a person without the role, refused again and again, is audited once in the window', async () => {
    const person = await newPerson(['staff']);
    const tokens = await personToken(person);
    assert.doesNotMatch(tokens.scope ?? '', /admin:/);
    for (let i = 0; i < 20; i++) assertTokenRefusal(await api('DELETE', `/clients/x${i}`, { token: tokens.access_token }), 403, 'insufficient_scope');
    await server.auditWriter.flush();
    const rows = (await server.services.auditTrail.list({ types: ['admin.refused'] }, 500)).filter((row) => row.actor === person.id);
    assert.equal(rows.length, 1);
  });

  test('/admin/api spends the per-address api budget before any token is looked at', async () => {
    const limited = await startTestServer({ ADMIN_API: 'true', RATE_LIMIT_API: '5/1m' });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 8; i++) {
        const response = await fetch(`${limited.issuer}/admin/api/v1/users`, { headers: { authorization: 'Bearer not-a-token' } });
        await response.arrayBuffer();
        statuses.push(response.status);
      }
      assert.deepEqual(statuses.slice(0, 5), [401, 401, 401, 401, 401]);
      assert.deepEqual(statuses.slice(5), [429, 429, 429]);
    } finally {
      await limited.close();
    }
  });
});

describe('ADMIN_API', () => {
  test('on: the API and its OpenAPI document are served', async () => {
    assert.equal((await call(`${base}/openapi.json`, 'GET')).status, 200);
    assert.ok(await server.services.resources.find(adminResource));
  });

  test('off by default: its paths answer 404 as any unknown path, and its resource is not offered', async () => {
    const off = await startTestServer();
    try {
      assert.equal(off.config.adminApi, false);
      const unknown = await call(`${off.issuer}/no/such/path`, 'GET');
      assert.equal(unknown.status, 404);
      for (const path of ['/admin/api/v1/openapi.json', '/admin/api/v1/users', '/admin/api/v1/clients']) {
        const answer = await call(`${off.issuer}${path}`, 'GET', { headers: { authorization: 'Bearer x' } });
        assert.equal(answer.status, 404, path);
        assert.equal(answer.body.error, unknown.body.error);
        assert.equal(answer.headers.get('content-type'), unknown.headers.get('content-type'));
        assert.equal(answer.headers.get('www-authenticate'), null);
      }
      assert.equal((await call(`${off.issuer}/admin/api/v1/clients`, 'POST', { body: { type: 'service', name: 'x' } })).status, 404);
      const indicator = `${off.issuer}/admin`;
      assert.equal(await off.services.resources.find(indicator), undefined);
      // A client cannot even be registered for it, let alone get a token.
      await assert.rejects(off.services.clients.create({ type: 'service', name: 'x', resources: [indicator], scopes: ['admin:read'] }), ValidationError);
    } finally {
      await off.close();
    }
  });
});
