import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { Ajv2020 } from 'ajv/dist/2020.js';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import * as oidc from 'openid-client';
import { Secret, TOTP } from 'otpauth';

import { adminPersonToken, newAdminTestPerson, sendAdminRequest, type AdminCallOptions } from '../helpers/admin-api-calls.ts';
import { runBrowser, type CookieJar } from '../helpers/browserless-login.ts';
import { basicAuth } from '../helpers/token-endpoint.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// The admin API end to end, with real tokens from the real token endpoint: automation's
// client credentials (read-only and read-write), a person with the admin role through the
// code flow, a person without it, tokens for another API, DPoP-bound tokens. Every answer
// the API gives here is validated against its own OpenAPI document.

const REDIRECT = 'http://localhost:8080/callback';
const OTHER_API = 'https://other-api.example.com';
const insecure = { execute: [oidc.allowInsecureRequests] };

let server: TestServer;
let base: string;
let adminResource: string;
let web: oidc.Configuration;
const ids: Record<string, { id: string; secret: string }> = {};
let validateAnswer: (method: string, path: string, status: number, type: string, body: unknown) => void;

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Record<string, unknown>;
}

/** The OpenAPI path template a concrete path is an instance of. */
function templateOf(paths: readonly string[], path: string): string | undefined {
  const concrete = path.split('?')[0]!.split('/');
  return paths.find((template) => {
    const parts = template.split('/');
    return parts.length === concrete.length && parts.every((part, i) => part.startsWith('{') || part === concrete[i]);
  });
}

/** One call to the admin API; its answer is checked against the OpenAPI document. */
async function api(method: string, path: string, options: AdminCallOptions = {}): Promise<Answer> {
  const { status, headers, text } = await sendAdminRequest(`${base}${path}`, method, options);
  const parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  validateAnswer(method, path, status, headers.get('content-type') ?? '', text ? parsed : undefined);
  return { status, headers, body: parsed };
}

async function clientToken(name: string, fields: Record<string, string> = {}, dpop?: string): Promise<{ access_token: string; token_type: string; scope?: string }> {
  const { id, secret } = ids[name]!;
  const response = await fetch(`${server.issuer}/token`, {
    method: 'POST',
    headers: { authorization: basicAuth(id, secret), 'content-type': 'application/x-www-form-urlencoded', ...(dpop && { dpop }) },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource: adminResource, scope: 'admin:read admin:write', ...fields }),
  });
  const answer = (await response.json()) as { access_token: string; token_type: string; scope?: string };
  assert.equal(response.status, 200, JSON.stringify(answer));
  return answer;
}

const newPerson = (roles: string[] = []) => newAdminTestPerson(server, 'person', roles);
/** A person's token for the admin API through the code flow (login and consent pages). */
const personToken = (person: { email: string; password: string }) => adminPersonToken(web, adminResource, person);

function assertProblem(answer: Answer, status: number, code?: string) {
  assert.equal(answer.status, status, JSON.stringify(answer.body));
  assert.match(answer.headers.get('content-type') ?? '', /^application\/problem\+json/);
  assert.equal(answer.body.status, status);
  if (code) assert.equal(answer.body.code, code);
  assert.equal(typeof answer.body.detail, 'string');
}

async function auditRows(types: string[]) {
  await server.auditWriter.flush();
  const rows = await server.services.auditTrail.list({ types }, 500);
  return rows.map((row) => ({ ...row, data: row.data as Record<string, unknown> | null }));
}

let write: string;
let read: string;

before(async () => {
  server = await startTestServer({ ADMIN_API: 'true' });
  base = `${server.issuer}/admin/api/v1`;
  adminResource = `${server.issuer}/admin`;
  const { clients, resources } = server.services;
  await resources.create({ indicator: OTHER_API, name: 'Other API', scopes: [{ name: 'admin:read' }, { name: 'admin:write' }] });
  const register = async (name: string, input: Record<string, unknown>) => {
    const created = await clients.create(input);
    ids[name] = { id: created.client.clientId, secret: created.clientSecret! };
  };
  await register('automation', { type: 'service', name: 'Automation', resources: [adminResource], scopes: ['admin:read', 'admin:write'] });
  await register('reader', { type: 'service', name: 'Read-only automation', resources: [adminResource], scopes: ['admin:read'] });
  await register('other', { type: 'service', name: 'Other API caller', resources: [OTHER_API], scopes: ['admin:read', 'admin:write'] });
  await register('console', { type: 'web', name: 'Console', redirectUris: [REDIRECT], resources: [adminResource], scopes: ['openid', 'admin:read', 'admin:write'], firstParty: true });
  web = await oidc.discovery(new URL(server.issuer), ids.console!.id, undefined, oidc.ClientSecretBasic(ids.console!.secret), insecure);

  // The document the API serves is the one every answer below must match.
  const document = (await (await fetch(`${base}/openapi.json`)).json()) as { openapi: string; paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>> };
  assert.equal(document.openapi, '3.1.0');
  const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
  ajv.addSchema(document, 'openapi.json');
  const templates = Object.keys(document.paths);
  const escape = (part: string) => part.replace(/~/g, '~0').replace(/\//g, '~1');
  validateAnswer = (method, path, status, type, body) => {
    const template = templateOf(templates, path);
    assert.ok(template, `${path} is in the OpenAPI document`);
    const operation = document.paths[template]![method.toLowerCase()];
    assert.ok(operation, `${method} ${template} is in the OpenAPI document`);
    const response = operation.responses[String(status)];
    assert.ok(response, `${method} ${template} documents the status ${status}`);
    if (!response.content) {
      assert.equal(body, undefined, `${method} ${template} ${status} has no body`);
      return;
    }
    const mediaType = type.split(';')[0]!.trim();
    assert.ok(response.content[mediaType], `${method} ${template} ${status} documents ${mediaType}`);
    const pointer = ['paths', template, method.toLowerCase(), 'responses', String(status), 'content', mediaType, 'schema'].map(escape).join('/');
    const validate = ajv.getSchema(`openapi.json#/${pointer}`)!;
    assert.ok(validate(body), `${method} ${path} ${status}: ${ajv.errorsText(validate.errors)} in ${JSON.stringify(body)}`);
  };

  write = (await clientToken('automation')).access_token;
  read = (await clientToken('reader', { scope: 'admin:read' })).access_token;
});

after(async () => {
  await server?.close();
});

describe('the admin API refuses', () => {
  test('a request without a token: 401 with both challenges, as a problem', async () => {
    const answer = await api('GET', '/clients');
    assertProblem(answer, 401, 'invalid_request');
    assert.match(answer.headers.get('www-authenticate') ?? '', /Bearer realm="portcullis"/);
    assert.match(answer.headers.get('www-authenticate') ?? '', /DPoP realm="portcullis"/);
    assert.equal(answer.headers.get('access-control-allow-origin'), null);
  });

  test('a token for another API: 401 invalid_token', async () => {
    const other = await clientToken('other', { resource: OTHER_API });
    const answer = await api('GET', '/clients', { token: other.access_token });
    assertProblem(answer, 401, 'invalid_token');
    assert.match(answer.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
  });

  test('a read-only token on every write: 403 insufficient_scope, nothing written, the attempt audited', async () => {
    const before = (await api('GET', '/clients', { token: read })).body.clients as unknown[];
    const person = await newPerson();
    const created = await api('POST', '/clients', { token: read, body: { type: 'service', name: 'Sneaky' } });
    assertProblem(created, 403, 'insufficient_scope');
    assert.match(created.headers.get('www-authenticate') ?? '', /error="insufficient_scope".*scope="admin:write"|scope="admin:write".*error="insufficient_scope"/);
    const target = ids.reader!.id;
    for (const [method, path] of [
      ['PATCH', `/clients/${target}`],
      ['POST', `/clients/${target}/secret`],
      ['DELETE', `/clients/${target}`],
      ['POST', '/users'],
      ['PATCH', `/users/${person.id}`],
      ['POST', `/users/${person.id}/disable`],
      ['POST', `/users/${person.id}/unblock`],
    ] as const) {
      assertProblem(await api(method, path, { token: read, body: { name: 'x' }, headers: { 'if-match': '*' } }), 403, 'insufficient_scope');
    }
    assert.equal(((await api('GET', '/clients', { token: read })).body.clients as unknown[]).length, before.length);
    assert.equal((await server.services.accounts.findById(person.id))?.disabled, false);
    const refused = (await auditRows(['admin.refused'])).filter((row) => row.actor === `client:${ids.reader!.id}`);
    // Once per subject in a window, however often it is refused (no audit row per request).
    assert.equal(refused.length, 1);
    assert.deepEqual(refused.find((row) => row.data?.method === 'POST' && row.data.path === '/admin/api/v1/clients')?.data?.scope, 'admin:write');
  });

  test('a person without the admin role never obtains the admin scopes', async () => {
    const person = await newPerson(['staff']);
    let token: string | undefined;
    try {
      const tokens = await personToken(person);
      assert.doesNotMatch(tokens.scope ?? '', /admin:/);
      token = tokens.access_token;
    } catch (error) {
      // Refused outright (invalid_scope) is as good: no admin scope was granted.
      assert.match(String((error as { error?: string }).error ?? error), /invalid_scope|access_denied|invalid_target/);
    }
    if (token) assertProblem(await api('GET', '/users', { token }), 403, 'insufficient_scope');
  });

  test('malformed JSON, wrong types, wrong content type and unknown fields: 4xx problems, never a 500, nothing written', async () => {
    const count = async () => ((await api('GET', '/clients', { token: write })).body.clients as unknown[]).length;
    const before = await count();
    assertProblem(await api('POST', '/clients', { token: write, raw: '{"type": "service", ' }), 400, 'invalid_input');
    assertProblem(await api('POST', '/clients', { token: write, raw: '"a string"' }), 400);
    assertProblem(await api('POST', '/clients', { token: write, raw: '[1, 2]' }), 400, 'invalid_input');
    assertProblem(await api('POST', '/clients', { token: write, raw: 'type=service', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415);
    const typed = await api('POST', '/clients', { token: write, body: { type: 'web', name: 42, redirectUris: 'https://x.example.com/cb', firstParty: 'yes' } });
    assertProblem(typed, 400, 'invalid_input');
    const pointers = (typed.body.errors as { pointer: string }[]).map((entry) => entry.pointer);
    assert.ok(pointers.includes('#/name') && pointers.includes('#/redirectUris') && pointers.includes('#/firstParty'), JSON.stringify(pointers));
    const nested = await api('POST', '/clients', { token: write, body: { type: 'web', name: 'Web', redirectUris: ['https://ok.example.com/cb', 'not a url'] } });
    assertProblem(nested, 400, 'invalid_input');
    assert.ok((nested.body.errors as { pointer: string }[]).some((entry) => entry.pointer === '#/redirectUris/1'));
    assertProblem(await api('POST', '/clients', { token: write, body: { type: 'service', name: 'X', secret: 'mine' } }), 400, 'invalid_input');
    assertProblem(await api('POST', '/users', { token: write, body: { email: 'not-an-email', name: '' } }), 400, 'invalid_input');
    assertProblem(await api('GET', '/users?cursor=not-a-uuid', { token: write }), 400, 'invalid_input');
    assertProblem(await api('GET', '/users?limit=0', { token: write }), 400, 'invalid_input');
    assertProblem(await api('GET', '/clients/%00nul', { token: write }), 404, 'not_found');
    assertProblem(await api('GET', '/users/not-a-uuid', { token: write }), 404, 'not_found');
    assertProblem(await api('POST', '/clients', { token: write, raw: JSON.stringify({ type: 'service', name: 'x'.repeat(40 * 1024) }) }), 413);
    assert.equal(await count(), before);
  });
});

describe('clients through the admin API', () => {
  test('create, read, change with If-Match, rotate the secret, delete twice: the secret shown once, never audited', async () => {
    const created = await api('POST', '/clients', { token: write, body: { type: 'service', name: 'Nightly export', resources: [adminResource], scopes: ['admin:read'] } });
    assert.equal(created.status, 201);
    const client = created.body.client as { clientId: string; hasSecret: boolean };
    const secret = created.body.clientSecret as string;
    assert.equal(client.hasSecret, true);
    assert.equal(created.headers.get('location'), `/admin/api/v1/clients/${client.clientId}`);
    assert.equal(created.headers.get('cache-control'), 'no-store');

    const read1 = await api('GET', `/clients/${client.clientId}`, { token: read });
    assert.equal(read1.status, 200);
    assert.equal(read1.body.clientSecret, undefined);
    assert.equal(JSON.stringify(read1.body).includes(secret), false);
    const etag = read1.headers.get('etag')!;
    assert.match(etag, /^"[A-Za-z0-9_-]+"$/);
    assert.equal(etag, created.headers.get('etag'));

    assertProblem(await api('PATCH', `/clients/${client.clientId}`, { token: write, body: { name: 'No precondition' } }), 428, 'precondition_required');
    assertProblem(await api('PATCH', `/clients/${client.clientId}`, { token: write, body: { name: 'Weak' }, headers: { 'if-match': `W/${etag}` } }), 412, 'precondition_failed');
    const changed = await api('PATCH', `/clients/${client.clientId}`, { token: write, body: { name: 'Nightly export v2' }, headers: { 'if-match': etag } });
    assert.equal(changed.status, 200);
    assert.equal(changed.body.name, 'Nightly export v2');
    assert.notEqual(changed.headers.get('etag'), etag);

    // A refused change writes nothing: the representation (and its ETag) is unchanged.
    const current = changed.headers.get('etag')!;
    assertProblem(await api('PATCH', `/clients/${client.clientId}`, { token: write, body: { name: 'Valid', grantTypes: ['authorization_code'] }, headers: { 'if-match': current } }), 400, 'invalid_input');
    assertProblem(await api('PATCH', `/clients/${client.clientId}`, { token: write, body: { type: 'web' }, headers: { 'if-match': current } }), 400, 'invalid_input');
    const unchanged = await api('GET', `/clients/${client.clientId}`, { token: read });
    assert.equal(unchanged.headers.get('etag'), current);
    assert.equal(unchanged.body.name, 'Nightly export v2');

    const rotated = await api('POST', `/clients/${client.clientId}/secret`, { token: write });
    assert.equal(rotated.status, 200);
    const newSecret = rotated.body.clientSecret as string;
    assert.notEqual(newSecret, secret);
    ids.export = { id: client.clientId, secret: newSecret };
    const viaNew = await clientToken('export', { scope: 'admin:read' });
    assert.equal(typeof viaNew.access_token, 'string');
    const viaOld = await fetch(`${server.issuer}/token`, {
      method: 'POST',
      headers: { authorization: basicAuth(client.clientId, secret), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource: adminResource, scope: 'admin:read' }),
    });
    assert.equal(viaOld.status, 401);
    assertProblem(await api('POST', `/clients/${client.clientId}/secret`, { token: write, body: { authMethod: 'none' } }), 400, 'invalid_input');

    assert.equal((await api('DELETE', `/clients/${client.clientId}`, { token: write })).status, 204);
    assert.equal((await api('DELETE', `/clients/${client.clientId}`, { token: write })).status, 204, 'deleting again is the same outcome');
    assert.equal((await api('DELETE', '/clients/never-existed', { token: write })).status, 204);
    assertProblem(await api('GET', `/clients/${client.clientId}`, { token: read }), 404, 'not_found');
    // Its token ended with it.
    assertProblem(await api('GET', '/clients', { token: viaNew.access_token }), 401, 'invalid_token');

    const events = (await auditRows(['client.*'])).filter((row) => row.clientId === client.clientId);
    assert.deepEqual(events.map((row) => row.type).sort(), ['client.created', 'client.deleted', 'client.secret_rotated', 'client.updated']);
    for (const row of events) {
      assert.equal(row.actor, `client:${ids.automation!.id}`);
      assert.equal(row.ip !== null && row.ip !== undefined, true);
      const text = JSON.stringify(row);
      assert.equal(text.includes(secret) || text.includes(newSecret), false, 'no secret in the audit trail');
    }
    assert.deepEqual(events.find((row) => row.type === 'client.updated')?.data?.fields, ['name']);
  });

  test('two operators changing one client: the second, holding the old ETag, gets 412 and the first change stands', async () => {
    const created = await api('POST', '/clients', { token: write, body: { type: 'service', name: 'Shared' } });
    const id = (created.body.client as { clientId: string }).clientId;
    const [first, second] = await Promise.all([api('GET', `/clients/${id}`, { token: write }), api('GET', `/clients/${id}`, { token: write })]);
    const etag = first.headers.get('etag')!;
    assert.equal(second.headers.get('etag'), etag);
    assert.equal((await api('PATCH', `/clients/${id}`, { token: write, body: { name: 'First operator' }, headers: { 'if-match': etag } })).status, 200);
    assertProblem(await api('PATCH', `/clients/${id}`, { token: write, body: { name: 'Second operator' }, headers: { 'if-match': etag } }), 412, 'precondition_failed');
    assert.equal((await api('GET', `/clients/${id}`, { token: read })).body.name, 'First operator');
  });

  test('a DPoP-bound token is honoured with a proof, and refused as Bearer', async () => {
    const key = await generateKeyPair('ES256', { extractable: true });
    const jwk = await exportJWK(key.publicKey);
    const proof = (htm: string, htu: string, ath?: string) =>
      new SignJWT({ htm, htu, iat: Math.floor(Date.now() / 1000), jti: randomUUID(), ...(ath && { ath }) })
        .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
        .sign(key.privateKey);
    const bound = await clientToken('automation', {}, await proof('POST', `${server.issuer}/token`));
    assert.equal(bound.token_type.toLowerCase(), 'dpop');
    const ath = createHash('sha256').update(bound.access_token).digest('base64url');
    const listed = await api('GET', '/clients', {
      headers: { authorization: `DPoP ${bound.access_token}`, dpop: await proof('GET', `${base}/clients`, ath) },
    });
    assert.equal(listed.status, 200);
    const created = await api('POST', '/users', {
      headers: { authorization: `DPoP ${bound.access_token}`, dpop: await proof('POST', `${base}/users`, ath) },
      body: { email: `dpop-${randomUUID().slice(0, 8)}@example.com`, name: 'Made with DPoP' },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assertProblem(await api('GET', '/clients', { token: bound.access_token }), 401, 'invalid_token');
  });
});

describe('resource servers through the admin API', () => {
  const ORDERS = 'https://orders.example.com/v1';
  const path = (indicator: string) => `/resource-servers/${encodeURIComponent(indicator)}`;

  test('create, read by its encoded indicator, change from the ETag read (scopes replaced whole), each audited with the actor', async () => {
    const created = await api('POST', '/resource-servers', { token: write, body: { indicator: ORDERS, name: 'Orders', scopes: [{ name: 'orders:read' }, { name: 'orders:write', roles: ['buyer'] }], accessTokenTtl: 600 } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.headers.get('location'), `/admin/api/v1${path(ORDERS)}`);
    assert.deepEqual(created.body.scopes, [{ name: 'orders:read', description: '', roles: [] }, { name: 'orders:write', description: '', roles: ['buyer'] }]);
    assertProblem(await api('POST', '/resource-servers', { token: write, body: { indicator: ORDERS, name: 'Again' } }), 409);

    const got = await api('GET', path(ORDERS), { token: read });
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('etag'), created.headers.get('etag'));
    assert.ok(((await api('GET', '/resource-servers', { token: read })).body.resourceServers as { indicator: string }[]).some((r) => r.indicator === ORDERS));
    assertProblem(await api('GET', path('https://nowhere.example.com'), { token: read }), 404);

    const change = { scopes: [{ name: 'orders:read', roles: ['buyer'] }], name: 'Orders v1' };
    assertProblem(await api('PATCH', path(ORDERS), { token: write, body: change }), 428, 'precondition_required');
    assertProblem(await api('PATCH', path(ORDERS), { token: write, body: change, headers: { 'if-match': '"stale"' } }), 412, 'precondition_failed');
    assertProblem(await api('PATCH', path(ORDERS), { token: read, body: change, headers: { 'if-match': got.headers.get('etag')! } }), 403);
    const changed = await api('PATCH', path(ORDERS), { token: write, body: change, headers: { 'if-match': got.headers.get('etag')! } });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    assert.deepEqual(changed.body.scopes, [{ name: 'orders:read', description: '', roles: ['buyer'] }]);
    assert.equal(changed.body.accessTokenTtl, 600, 'what the change did not name is kept');
    assert.notEqual(changed.headers.get('etag'), got.headers.get('etag'));

    const rows = (await auditRows(['resource.*'])).filter((row) => row.data?.indicator === ORDERS);
    assert.deepEqual(rows.map((row) => row.type).sort(), ['resource.created', 'resource.updated']);
    for (const row of rows) assert.equal(row.actor, `client:${ids.automation!.id}`);
    assert.deepEqual(rows.find((row) => row.type === 'resource.updated')?.data?.fields, ['scopes', 'name']);
  });

  test('bad input is a 400 naming the field, and nothing is written; the indicator cannot change', async () => {
    const indicator = 'https://bad-input.example.com';
    const before = await api('POST', '/resource-servers', { token: write, body: { indicator, name: 'Bad input', scopes: [{ name: 'a' }] } });
    const etag = before.headers.get('etag')!;
    const refused = await api('PATCH', path(indicator), { token: write, body: { scopes: [{ name: 'has space' }], accessTokenTtl: 5 }, headers: { 'if-match': etag } });
    assertProblem(refused, 400);
    assert.ok((refused.body.errors as { pointer: string }[]).some((error) => error.pointer === '#/scopes/0/name'), JSON.stringify(refused.body));
    assertProblem(await api('PATCH', path(indicator), { token: write, body: { indicator: 'https://elsewhere.example.com' }, headers: { 'if-match': etag } }), 400);
    assertProblem(await api('POST', '/resource-servers', { token: write, body: { indicator: 'not a url', name: 'X' } }), 400);
    // Control characters would reach operators' terminals; a key over Postgres' index limit would be a 500.
    assertProblem(await api('POST', '/resource-servers', { token: write, body: { indicator: 'https://ctl.example.com/a\u0085b\u001bc', name: 'X' } }), 400);
    assertProblem(await api('POST', '/resource-servers', { token: write, body: { indicator: `https://wide.example.com/${'漢'.repeat(1980)}`, name: 'X' } }), 400);
    assertProblem(await api('POST', '/resource-servers', { token: write, body: { indicator: 'https://dupe.example.com', name: 'X', scopes: [{ name: 'a' }, { name: 'a' }] } }), 400);
    assert.equal((await api('GET', path(indicator), { token: read })).headers.get('etag'), etag, 'unchanged');
    assert.equal(await server.services.resources.find('https://dupe.example.com'), undefined);
  });

  test('two changes from the same ETag at once: one is written, the other is 412', async () => {
    const indicator = 'https://race.example.com';
    const etag = (await api('POST', '/resource-servers', { token: write, body: { indicator, name: 'Race' } })).headers.get('etag')!;
    const answers = await Promise.all(
      ['first', 'second', 'third'].map((name) => api('PATCH', path(indicator), { token: write, body: { scopes: [{ name }] }, headers: { 'if-match': etag } })),
    );
    assert.deepEqual(answers.map((answer) => answer.status).sort(), [200, 412, 412]);
    const winner = answers.find((answer) => answer.status === 200)!;
    assert.deepEqual((await server.services.resources.find(indicator))?.scopes.map((scope) => scope.name), (winner.body.scopes as { name: string }[]).map((scope) => scope.name));
  });

  test('delete: refused while a client is registered for it, then gone once (idempotent), audited once', async () => {
    const indicator = 'https://doomed.example.com';
    await api('POST', '/resource-servers', { token: write, body: { indicator, name: 'Doomed', scopes: [{ name: 'doomed:read' }] } });
    const holder = await server.services.clients.create({ type: 'service', name: 'Holder', resources: [indicator], scopes: ['doomed:read'] });
    const refused = await api('DELETE', path(indicator), { token: write });
    assertProblem(refused, 409);
    assert.match(String(refused.body.detail), new RegExp(holder.client.clientId));
    assert.ok(await server.services.resources.find(indicator), 'still there');
    assertProblem(await api('DELETE', path(indicator), { token: read }), 403);

    await server.services.clients.delete(holder.client.clientId);
    assert.equal((await api('DELETE', path(indicator), { token: write })).status, 204);
    assert.equal((await api('DELETE', path(indicator), { token: write })).status, 204, 'already gone');
    assert.equal(await server.services.resources.find(indicator), undefined);
    assert.equal((await auditRows(['resource.deleted'])).filter((row) => row.data?.indicator === indicator).length, 1);
  });

  test('the admin API’s own resource server stays usable: its scopes keep a role, and it is never deleted', async () => {
    const own = await api('GET', path(adminResource), { token: read });
    assert.equal(own.status, 200);
    const etag = own.headers.get('etag')!;
    // roles: [] is "anyone": every account would be granted admin:write.
    const unbound = await api('PATCH', path(adminResource), { token: write, body: { scopes: [{ name: 'admin:read', roles: ['admin'] }, { name: 'admin:write' }] }, headers: { 'if-match': etag } });
    assertProblem(unbound, 400);
    assert.match(String(unbound.body.detail), /admin:write must stay, bound to a role/);
    assertProblem(await api('PATCH', path(adminResource), { token: write, body: { scopes: [{ name: 'admin:read', roles: ['admin'] }] }, headers: { 'if-match': etag } }), 400);
    assertProblem(await api('DELETE', path(adminResource), { token: write }), 409);
    const after = await server.services.resources.find(adminResource);
    assert.deepEqual(after?.scopes.map((scope) => [scope.name, scope.roles]), [['admin:read', ['admin']], ['admin:write', ['admin']]]);
    // Its name or lifetime may change; the scopes as they are pass.
    const renamed = await api('PATCH', path(adminResource), { token: write, body: { accessTokenTtl: 240 }, headers: { 'if-match': etag } });
    assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
  });
});

describe('settings through the admin API', () => {
  test('GET /settings: what this instance runs with, for a read token; no token, no settings', async () => {
    const settings = await api('GET', '/settings', { token: read });
    assert.equal(settings.status, 200);
    assert.equal(settings.body.issuer, server.issuer);
    assert.deepEqual(settings.body.mfa, { mode: server.config.mfa.mode, requiredRoles: [...server.config.mfa.roles] });
    assert.equal((settings.body.features as { adminApi: boolean }).adminApi, true);
    assert.ok(!JSON.stringify(settings.body).includes(server.config.masterSecret ?? 'no master secret'), 'never the master secret');
    assertProblem(await api('GET', '/settings'), 401);
  });
});

describe('grants through the admin API', () => {
  /** A sign-in at the console with openid only, in its own browser: one grant of the person's, and its access token for userinfo. */
  async function signIn(person: { email: string; password: string }) {
    return (await signInBrowser(person)).tokens;
  }
  async function signInBrowser(person: { email: string; password: string }) {
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(web, { redirect_uri: REDIRECT, scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
    const browser = await runBrowser(url, person);
    const tokens = await oidc.authorizationCodeGrant(web, browser.url, { pkceCodeVerifier: verifier, expectedState: oidc.skipStateCheck });
    return { tokens, jar: browser.jar };
  }
  /** Whether a browser is still signed in: an authorization with prompt=none gets a code, or login_required. */
  async function stillSignedIn(jar: CookieJar): Promise<boolean> {
    const url = oidc.buildAuthorizationUrl(web, { redirect_uri: REDIRECT, scope: 'openid', prompt: 'none', code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256' });
    const { url: callback } = await runBrowser(url, { jar });
    if (callback.searchParams.get('code')) return true;
    assert.equal(callback.searchParams.get('error'), 'login_required', callback.href);
    return false;
  }
  const userinfo = async (token: string) => (await fetch(`${server.issuer}/me`, { headers: { authorization: `Bearer ${token}` } })).status;

  test('list a person’s grants; revoke one (only theirs, idempotent), its tokens stop; audited with the actor', async () => {
    const [person, other] = [await newPerson(), await newPerson()];
    const tokens = await signIn(person);
    const othersTokens = await signIn(other);
    assert.equal(await userinfo(tokens.access_token), 200);

    const listed = await api('GET', `/users/${person.id}/grants`, { token: read });
    assert.equal(listed.status, 200);
    const grants = listed.body.grants as { id: string; clientId: string; accountId: string; scopes: string[] }[];
    assert.equal(grants.length, 1);
    assert.equal(grants[0]!.clientId, ids.console!.id);
    assert.equal(grants[0]!.accountId, person.id);
    assert.ok(grants[0]!.scopes.includes('openid'));
    const othersGrant = ((await api('GET', `/users/${other.id}/grants`, { token: read })).body.grants as { id: string }[])[0]!.id;

    // Another person's grant id under this person: nothing of the other's ends.
    assert.equal((await api('DELETE', `/users/${person.id}/grants/${othersGrant}`, { token: write })).status, 204);
    assert.equal(await userinfo(othersTokens.access_token), 200);
    assertProblem(await api('DELETE', `/users/${person.id}/grants/${grants[0]!.id}`, { token: read }), 403);
    assert.equal(await userinfo(tokens.access_token), 200, 'a read token ended nothing');

    assert.equal((await api('DELETE', `/users/${person.id}/grants/${grants[0]!.id}`, { token: write })).status, 204);
    assert.equal(await userinfo(tokens.access_token), 401, 'its access token stops at once');
    assert.deepEqual((await api('GET', `/users/${person.id}/grants`, { token: read })).body.grants, []);
    assert.equal((await api('DELETE', `/users/${person.id}/grants/${grants[0]!.id}`, { token: write })).status, 204, 'already gone');
    assert.equal((await api('DELETE', `/users/${person.id}/grants/${'x'.repeat(300)}`, { token: write })).status, 204);
    assertProblem(await api('GET', `/users/${randomUUID()}/grants`, { token: read }), 404);

    const rows = (await auditRows(['grant.revoked'])).filter((row) => row.accountId === person.id);
    assert.equal(rows.length, 1, 'one revocation, one row');
    assert.equal(rows[0]!.actor, `client:${ids.automation!.id}`);
    assert.equal(rows[0]!.data?.reason, 'operator');
    assert.equal((await auditRows(['grant.revoked'])).filter((row) => row.accountId === other.id).length, 0);
  });

  test('concurrent revocations of one grant: every answer 204, one audit row', async () => {
    const person = await newPerson();
    await signIn(person);
    const [grant] = (await api('GET', `/users/${person.id}/grants`, { token: read })).body.grants as { id: string }[];
    const answers = await Promise.all(Array.from({ length: 6 }, () => api('DELETE', `/users/${person.id}/grants/${grant!.id}`, { token: write })));
    assert.deepEqual(answers.map((answer) => answer.status), [204, 204, 204, 204, 204, 204]);
    assert.equal((await auditRows(['grant.revoked'])).filter((row) => row.accountId === person.id).length, 1);
  });

  test('list a person’s browser sessions; sign one browser out (only theirs, idempotent): it and its grants end, the other browser stays; audited once', async () => {
    const [person, other] = [await newPerson(), await newPerson()];
    const sessionsOf = async (id: string) => (await api('GET', `/users/${id}/sessions`, { token: read })).body.sessions as { id: string; signedInAt: string; amr: string[]; clients: { clientId: string; grantId: string }[] }[];
    const laptop = await signInBrowser(person);
    const [laptopSession] = await sessionsOf(person.id);
    const phone = await signInBrowser(person);
    const othersBrowser = await signInBrowser(other);
    const [othersSession] = await sessionsOf(other.id);

    const sessions = await sessionsOf(person.id);
    assert.equal(sessions.length, 2);
    assert.ok(sessions.some((session) => session.id === laptopSession!.id));
    for (const session of sessions) {
      assert.ok(session.amr.includes('pwd'), JSON.stringify(session));
      assert.ok(!Number.isNaN(Date.parse(session.signedInAt)));
      assert.equal(session.clients.length, 1);
      assert.equal(session.clients[0]!.clientId, ids.console!.id);
    }
    // The session's id is its uid, never the value of the browser's session cookie.
    const cookieValues = [laptop.jar.get('_session'), phone.jar.get('_session')];
    assert.ok(cookieValues.every((value) => value !== undefined));
    for (const session of sessions) assert.ok(!cookieValues.includes(session.id));
    const laptopGrant = laptopSession!.clients[0]!.grantId;
    assert.ok(((await api('GET', `/users/${person.id}/grants`, { token: read })).body.grants as { id: string }[]).some((grant) => grant.id === laptopGrant));

    assertProblem(await api('DELETE', `/users/${person.id}/sessions/${laptopSession!.id}`, { token: read }), 403);
    // Another person's session under this person: nothing of the other's ends.
    assert.equal((await api('DELETE', `/users/${person.id}/sessions/${othersSession!.id}`, { token: write })).status, 204);
    assert.equal(await stillSignedIn(othersBrowser.jar), true);
    assert.equal(await userinfo(othersBrowser.tokens.access_token), 200);
    assert.equal(await stillSignedIn(laptop.jar), true, 'nothing ended yet');

    const ended = await api('DELETE', `/users/${person.id}/sessions/${laptopSession!.id}`, { token: write });
    assert.equal(ended.status, 200, JSON.stringify(ended.body));
    assert.equal(ended.body.grants, 1);
    assert.ok((ended.body.tokens as number) >= 1, 'at least the access token');
    assert.equal(await stillSignedIn(laptop.jar), false, 'the laptop is signed out');
    assert.equal(await userinfo(laptop.tokens.access_token), 401, 'the grant made in it ended with its tokens');
    assert.equal(await stillSignedIn(phone.jar), true, 'the phone stays signed in');
    assert.equal(await userinfo(phone.tokens.access_token), 200);
    assert.equal((await sessionsOf(person.id)).some((session) => session.id === laptopSession!.id), false);

    assert.equal((await api('DELETE', `/users/${person.id}/sessions/${laptopSession!.id}`, { token: write })).status, 204, 'already ended');
    assert.equal((await api('DELETE', `/users/${person.id}/sessions/${'x'.repeat(300)}`, { token: write })).status, 204);
    assertProblem(await api('GET', `/users/${randomUUID()}/sessions`, { token: read }), 404);
    assertProblem(await api('DELETE', `/users/${randomUUID()}/sessions/${laptopSession!.id}`, { token: write }), 404);

    // The laptop's owner can sign in again in that browser: a new session, not the ended one.
    const again = await runBrowser(oidc.buildAuthorizationUrl(web, { redirect_uri: REDIRECT, scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256' }), { ...person, jar: laptop.jar });
    assert.ok(again.url.searchParams.get('code'), again.url.href);
    assert.ok(again.pages.includes('login'), 'asked for the password again');
    assert.equal(await stillSignedIn(laptop.jar), true);
    assert.equal((await sessionsOf(person.id)).length, 2);

    const rows = (await auditRows(['session.ended'])).filter((row) => row.accountId === person.id);
    assert.equal(rows.length, 1, 'one session ended, one row');
    assert.equal(rows[0]!.actor, `client:${ids.automation!.id}`);
    assert.deepEqual(rows[0]!.data, { session: laptopSession!.id, clients: [ids.console!.id], grants: 1, tokens: (ended.body.tokens as number) });
    assert.equal((await auditRows(['session.ended'])).filter((row) => row.accountId === other.id).length, 0);
  });

  test('concurrent sign-outs of one browser: one ends it (200), the rest find it gone (204), one audit row', async () => {
    const person = await newPerson();
    const browser = await signInBrowser(person);
    const [session] = (await api('GET', `/users/${person.id}/sessions`, { token: read })).body.sessions as { id: string }[];
    const answers = await Promise.all(Array.from({ length: 6 }, () => api('DELETE', `/users/${person.id}/sessions/${session!.id}`, { token: write })));
    assert.deepEqual(answers.map((answer) => answer.status).sort(), [200, 204, 204, 204, 204, 204]);
    assert.equal(await stillSignedIn(browser.jar), false);
    assert.equal((await auditRows(['session.ended'])).filter((row) => row.accountId === person.id).length, 1);
  });

  test('sign-out ends every grant and token of a person (the account stays), audited with the actor', async () => {
    const person = await newPerson();
    const first = await signIn(person);
    const second = await signIn(person);
    assertProblem(await api('POST', `/users/${person.id}/sign-out`, { token: read }), 403);
    const signedOut = await api('POST', `/users/${person.id}/sign-out`, { token: write });
    assert.equal(signedOut.status, 200, JSON.stringify(signedOut.body));
    assert.equal(signedOut.body.grants, 2);
    for (const tokens of [first, second]) assert.equal(await userinfo(tokens.access_token), 401);
    assert.deepEqual((await api('GET', `/users/${person.id}/grants`, { token: read })).body.grants, []);
    assert.equal((await api('GET', `/users/${person.id}`, { token: read })).body.disabled, false);
    const row = (await auditRows(['user.tokens_revoked'])).find((candidate) => candidate.accountId === person.id);
    assert.equal(row?.actor, `client:${ids.automation!.id}`);
  });
});

describe('keys through the admin API', () => {
  test('list the keys without their material; an announced rotation, audited with the actor, published at once and refused twice', async () => {
    const listed = await api('GET', '/keys', { token: read });
    assert.equal(listed.status, 200);
    const keys = listed.body.keys as { kid: string; use: string; status: string; alg: string | null }[];
    assert.ok(keys.some((key) => key.status === 'signing' && key.alg === 'ES256'));
    assert.ok(keys.some((key) => key.use === 'cookie'));
    assert.doesNotMatch(JSON.stringify(listed.body), /"d"|"k"|sealed|BEGIN/, 'never key material');
    assertProblem(await api('GET', '/keys?all=maybe', { token: read }), 400);

    assertProblem(await api('POST', '/keys/rotate', { token: read, body: { algs: ['ES256'] } }), 403);
    assertProblem(await api('POST', '/keys/rotate', { token: write, body: { algs: ['HS256'] } }), 400);
    assertProblem(await api('POST', '/keys/rotate', { token: write, body: { algs: ['ES256'], extra: true } }), 400);
    // Two announced keys of one kind would race for which one signs.
    assertProblem(await api('POST', '/keys/rotate', { token: write, body: { algs: ['RS256', 'RS256'] } }), 400);
    const rotated = await api('POST', '/keys/rotate', { token: write, body: { algs: ['ES256'] } });
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    const [announced] = rotated.body.announced as { kid: string; use: string; signsFrom: string }[];
    assert.equal(announced?.use, 'sig');
    assert.ok(Date.parse(announced.signsFrom) > Date.now(), 'signs only after the announcement delay');
    assertProblem(await api('POST', '/keys/rotate', { token: write, body: { algs: ['ES256'] } }), 409);
    const after = (await api('GET', '/keys', { token: read })).body.keys as { kid: string; status: string }[];
    assert.equal(after.find((key) => key.kid === announced.kid)?.status, 'announced');
    const row = (await auditRows(['key.created'])).find((candidate) => candidate.data?.kid === announced.kid);
    assert.equal(row?.actor, `client:${ids.automation!.id}`);
    // A burst of rotations of one kind: one is announced, the others are refused.
    const burst = await Promise.all(Array.from({ length: 4 }, () => api('POST', '/keys/rotate', { token: write, body: { algs: ['RS256'] } })));
    assert.deepEqual(burst.map((answer) => answer.status).sort(), [200, 409, 409, 409]);
    const announcedRs = ((await api('GET', '/keys', { token: read })).body.keys as { alg: string | null; status: string }[]).filter((key) => key.alg === 'RS256' && key.status === 'announced');
    assert.equal(announcedRs.length, 1);
  });
});

describe('users through the admin API', () => {
  test('create, conflict, read, change roles with If-Match, disable, enable, unblock: audited with the actor', async () => {
    const email = `operator-made-${randomUUID().slice(0, 8)}@example.com`;
    const created = await api('POST', '/users', { token: write, body: { email, name: 'Made by API', password: 'a long enough passphrase for this', roles: ['staff'] } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const user = created.body as { id: string; hasPassword: boolean };
    assert.equal(user.hasPassword, true);
    assert.equal(JSON.stringify(created.body).includes('passphrase'), false);
    assertProblem(await api('POST', '/users', { token: write, body: { email: email.toUpperCase(), name: 'Again' } }), 409, 'conflict');

    const got = await api('GET', `/users/${user.id}`, { token: read });
    const etag = got.headers.get('etag')!;
    assertProblem(await api('PATCH', `/users/${user.id}`, { token: write, body: { roles: ['admin'] } }), 428, 'precondition_required');
    assertProblem(await api('PATCH', `/users/${user.id}`, { token: write, body: { roles: ['Not A Role'] }, headers: { 'if-match': etag } }), 400, 'invalid_input');
    assert.deepEqual((await api('GET', `/users/${user.id}`, { token: read })).body.roles, ['staff'], 'a refused change wrote nothing');
    const promoted = await api('PATCH', `/users/${user.id}`, { token: write, body: { roles: ['staff', 'admin'] }, headers: { 'if-match': etag } });
    assert.equal(promoted.status, 200);
    assert.deepEqual(promoted.body.roles, ['staff', 'admin']);
    assertProblem(await api('PATCH', `/users/${user.id}`, { token: write, body: { name: 'Late' }, headers: { 'if-match': etag } }), 412, 'precondition_failed');

    // Not the last admin: disabling that one is refused (admin-hardening.flow.test.ts).
    await newPerson(['admin']);
    assert.equal((await api('POST', `/users/${user.id}/disable`, { token: write })).body.disabled, true);
    assert.equal((await server.services.accounts.findById(user.id))?.disabled, true);
    assert.equal((await api('POST', `/users/${user.id}/enable`, { token: write })).body.disabled, false);
    const unblocked = await api('POST', `/users/${user.id}/unblock`, { token: write });
    assert.equal(unblocked.status, 200);
    assert.equal(unblocked.body.released, true);
    assertProblem(await api('POST', `/users/${randomUUID()}/unblock`, { token: write }), 404, 'not_found');

    const rows = (await auditRows(['user.*', 'login.unblocked'])).filter((row) => row.accountId === user.id);
    assert.deepEqual(rows.map((row) => row.type).sort(), ['login.unblocked', 'user.created', 'user.disabled', 'user.enabled', 'user.updated']);
    for (const row of rows) {
      assert.equal(row.actor, `client:${ids.automation!.id}`);
      assert.equal(JSON.stringify(row).includes('passphrase'), false);
    }
    const updated = rows.find((row) => row.type === 'user.updated')!;
    assert.deepEqual(updated.data?.roles, ['staff', 'admin']);
    assert.deepEqual(updated.data?.previousRoles, ['staff']);
  });

  test('the listing searches and pages with a cursor: every match once, in order', async () => {
    const tag = randomUUID().slice(0, 8);
    for (let i = 0; i < 5; i += 1) {
      assert.equal((await api('POST', '/users', { token: write, body: { email: `page-${tag}-${i}@example.com`, name: `Paged ${i}` } })).status, 201);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = `/users?search=${encodeURIComponent(`PAGE-${tag}`)}&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page = await api('GET', query, { token: read });
      assert.equal(page.status, 200);
      seen.push(...(page.body.users as { email: string }[]).map((u) => u.email));
      cursor = page.body.nextCursor as string | null;
      pages += 1;
    } while (cursor && pages < 10);
    assert.equal(pages, 3);
    assert.deepEqual([...seen].sort(), [0, 1, 2, 3, 4].map((i) => `page-${tag}-${i}@example.com`));
    assert.equal(((await api('GET', `/users?search=${tag}-3`, { token: read })).body.users as unknown[]).length, 1);
  });

  test('a person with the admin role gets both scopes through the code flow and acts as themself', async () => {
    const admin = await newPerson(['admin']);
    const tokens = await personToken(admin);
    const granted = new Set(tokens.scope?.split(' '));
    assert.ok(granted.has('admin:read') && granted.has('admin:write'), tokens.scope);
    const created = await api('POST', '/clients', { token: tokens.access_token, body: { type: 'service', name: 'Made by a person' } });
    assert.equal(created.status, 201);
    const clientId = (created.body.client as { clientId: string }).clientId;
    const [row] = (await auditRows(['client.created'])).filter((event) => event.clientId === clientId);
    assert.equal(row?.actor, admin.id);

    // The role taken away: a new token carries no admin scope.
    await server.services.accounts.update(admin.id, { roles: [] });
    let again: string | undefined;
    try {
      const next = await personToken(admin);
      assert.doesNotMatch(next.scope ?? '', /admin:/);
      again = next.access_token;
    } catch (error) {
      assert.match(String((error as { error?: string }).error ?? error), /invalid_scope|access_denied|invalid_target/);
    }
    if (again) assertProblem(await api('GET', '/clients', { token: again }), 403, 'insufficient_scope');
  });
});

describe('the audit trail and second factors through the admin API', () => {
  test('audit events: filtered by type, family, account and time, newest first, paged by a cursor that every event passes once', async () => {
    const tag = randomUUID().slice(0, 8);
    const made: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      const created = await api('POST', '/users', { token: write, body: { email: `audited-${tag}-${i}@example.com`, name: `Audited ${i}` } });
      made.push((created.body as { id: string }).id);
    }
    await server.auditWriter.flush();
    const since = (await server.services.auditTrail.page({ accountId: made[0] }, { limit: 1 }))[0]!.time;

    const seen: { id: string; accountId: string | null; type: string; actor: string | null }[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = `/audit-events?type=user.created&since=${encodeURIComponent(since)}&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page = await api('GET', query, { token: read });
      assert.equal(page.status, 200, JSON.stringify(page.body));
      seen.push(...(page.body.events as typeof seen));
      cursor = page.body.nextCursor as string | null;
      pages += 1;
    } while (cursor && pages < 20);
    const ours = seen.filter((event) => made.includes(event.accountId ?? ''));
    assert.deepEqual(ours.map((event) => event.accountId), [...made].reverse(), 'each once, newest first');
    assert.ok(seen.every((event) => event.type === 'user.created' && event.actor === `client:${ids.automation!.id}`));
    const numeric = seen.map((event) => BigInt(event.id));
    assert.ok(numeric.every((id, i) => i === 0 || id < numeric[i - 1]!), 'ids strictly decreasing across pages');

    const family = await api('GET', `/audit-events?type=user.*&type=login.unblocked&accountId=${made[2]}`, { token: read });
    assert.deepEqual((family.body.events as { type: string }[]).map((event) => event.type), ['user.created']);
    const future = new Date(Date.now() + 3_600_000).toISOString();
    assert.deepEqual((await api('GET', `/audit-events?since=${encodeURIComponent(future)}`, { token: read })).body.events, []);
    const before = await api('GET', `/audit-events?accountId=${made[2]}&until=${encodeURIComponent(since)}`, { token: read });
    assert.deepEqual(before.body.events, [], 'until: only events before it');

    // A family is a literal prefix: `_` in it is an underscore, not LIKE's any-character.
    server.auditWriter.record({ type: 'password_reset.requested', accountId: made[4] });
    await server.auditWriter.flush();
    const underscored = await api('GET', `/audit-events?type=password_reset.*&accountId=${made[4]}`, { token: read });
    assert.deepEqual((underscored.body.events as { type: string }[]).map((event) => event.type), ['password_reset.requested']);
    for (const family of ['p_______reset.*', 'u___.*', 'password_reset_.*']) {
      const wide = await api('GET', `/audit-events?type=${family}&accountId=${made[4]}`, { token: read });
      assert.deepEqual(wide.body.events, [], family);
    }
  });

  test('audit events: malformed filters are 400 problems naming the field, never a 500; a read token suffices and no token gets 401', async () => {
    for (const query of [
      'type=DROP%20TABLE',
      'type=login.*.*',
      `type=${'a'.repeat(65)}`,
      'cursor=abc',
      'cursor=0',
      'cursor=9999999999999999999',
      'cursor=-1',
      'since=yesterday',
      'since=2026-12-05',
      'until=2026-13-45T00:00:00Z',
      'since=0000-01-01T00:00:00Z',
      'until=0001-01-01T00:00:00%2B01:00',
      'accountId=not-a-uuid',
      'limit=0',
      'limit=201',
      'clientId=a%00b',
      'unknown=1',
      `${Array.from({ length: 21 }, (_, i) => `type=t${String.fromCharCode(97 + i)}`).join('&')}`,
    ]) {
      const answer = await api('GET', `/audit-events?${query}`, { token: read });
      assertProblem(answer, 400, 'invalid_input');
      assert.ok(Array.isArray(answer.body.errors) && (answer.body.errors as unknown[]).length > 0, query);
    }
    assertProblem(await api('GET', '/audit-events', {}), 401);
  });

  test("no secret is ever read back: a rotated client's new secret is nowhere in its events", async () => {
    const created = await api('POST', '/clients', { token: write, body: { type: 'service', name: 'Audited secret' } });
    const clientId = (created.body.client as { clientId: string }).clientId;
    const rotated = await api('POST', `/clients/${clientId}/secret`, { token: write });
    const secrets = [created.body.clientSecret, rotated.body.clientSecret] as string[];
    assert.ok(secrets.every((secret) => typeof secret === 'string' && secret.length > 20));
    await server.auditWriter.flush();
    const events = await api('GET', `/audit-events?clientId=${encodeURIComponent(clientId)}`, { token: read });
    assert.ok((events.body.events as unknown[]).length >= 2);
    for (const secret of secrets) assert.ok(!JSON.stringify(events.body).includes(secret));
  });

  test("reset-factors: the person's authenticator and recovery codes go, and every session and token with them; audited with the actor; read tokens refused", async () => {
    const person = await newPerson();
    const signedIn = await personToken(person);
    const enrolment = await server.services.secondFactors.startEnrolment(person, 'admin-test');
    assert.ok(enrolment);
    const code = TOTP.generate({ secret: Secret.fromBase32(enrolment.secret) });
    assert.ok(await server.services.secondFactors.confirmEnrolment(person.id, 'admin-test', enrolment.sealed, code));

    assertProblem(await api('POST', `/users/${person.id}/reset-factors`, { token: read }), 403, 'insufficient_scope');
    assert.equal(await server.services.secondFactors.state(person.id), 'confirmed', 'a refused call removed nothing');
    const reset = await api('POST', `/users/${person.id}/reset-factors`, { token: write });
    assert.equal(reset.status, 200, JSON.stringify(reset.body));
    assert.equal(reset.body.removed, true);
    assert.ok((reset.body.grants as number) >= 1, 'the signed-in grant ended');
    assert.equal(await server.services.secondFactors.state(person.id), 'none');
    const introspected = await oidc.tokenIntrospection(web, signedIn.access_token);
    assert.equal(introspected.active, false, "the person's token is over");
    assert.equal((await api('POST', `/users/${person.id}/reset-factors`, { token: write })).body.removed, false, 'again: nothing left, still 200');
    assertProblem(await api('POST', `/users/${randomUUID()}/reset-factors`, { token: write }), 404, 'not_found');

    const rows = (await auditRows(['mfa.reset', 'user.tokens_revoked'])).filter((row) => row.accountId === person.id);
    assert.deepEqual(rows.map((row) => row.type), ['mfa.reset', 'user.tokens_revoked', 'mfa.reset', 'user.tokens_revoked']);
    assert.ok(rows.every((row) => row.actor === `client:${ids.automation!.id}`));
    assert.ok(rows.every((row) => !JSON.stringify(row).includes(enrolment.secret)));
  });
});
