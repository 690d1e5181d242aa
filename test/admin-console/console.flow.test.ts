import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { adminConsoleRegistration } from '../../src/admin-console/index.ts';
import { enrolAuthenticator, newAdminTestPerson, type AdminTestPerson } from '../helpers/admin-api-calls.ts';
import { consoleUrl, signInToConsole } from '../helpers/admin-console.ts';
import { signedOutOfAccountPage, signInToAccountPage } from '../helpers/account-page.ts';
import { authorizationRequest, CookieJar, csrfToken, openPage, send, submitForm } from '../helpers/browserless-login.ts';
import { testEventType } from '../helpers/test-event-type.ts';
import { basicAuth } from '../helpers/token-endpoint.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// The admin console (/admin) over real HTTP, as a browser drives it and as an attacker would
// try to break it: signed out, without the role, with a role taken away mid-session, with an
// authorization request written by someone else, with forms forged (no CSRF token, another
// admin's, a content type a cross-site form can send), with input meant to break the page,
// with stale versions, and with ids of another person's grants and sessions. Each change is
// checked where it lands (the services, the audit trail), never only on the page that
// answered it.

const API = 'https://console-test-api.example.com';
const API_SCOPE = 'things:read';

let server: TestServer;
let adminResource: string;
let endSession: string;
let admin: AdminTestPerson;
let adminJar: CookieJar;

before(async () => {
  // Many sign-ins from one address: the login throttle is not what this file tests.
  server = await startTestServer({ ADMIN_API: 'true', RATE_LIMIT_LOGIN: '600/1m' });
  adminResource = `${server.issuer}/admin`;
  await server.services.resources.create({ indicator: API, name: 'Console test API', scopes: [{ name: API_SCOPE }] });
  const discovery = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as { end_session_endpoint: string };
  endSession = discovery.end_session_endpoint;
  admin = await newAdminTestPerson(server, 'console', ['admin']);
  adminJar = (await signInToConsole(server.issuer, admin)).jar;
});

after(async () => {
  await server?.close();
});

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly location: string | null;
  readonly html: string;
}

/**
 * Every HTML answer of the console is personal and must not be framed nor stored, and runs
 * no inline script (the live tail is a file of /assets).
 */
function assertPageHeaders(headers: Headers, what: string) {
  const csp = headers.get('content-security-policy') ?? '';
  const scriptSrc = /(?:^|;)\s*script-src ([^;]*)/.exec(csp)?.[1];
  ok(scriptSrc, `${what}: a script-src in ${csp}`);
  assert.doesNotMatch(scriptSrc, /unsafe-inline|unsafe-eval|\*/, `${what}: ${scriptSrc}`);
  assert.match(csp, /frame-ancestors 'none'/, what);
  assert.equal(headers.get('x-frame-options'), 'DENY', what);
  assert.equal(headers.get('cache-control'), 'no-store', what);
}

async function answerOf(response: Response, what: string): Promise<Answer> {
  const html = await response.text();
  if ((response.headers.get('content-type') ?? '').startsWith('text/html')) assertPageHeaders(response.headers, what);
  return { status: response.status, headers: response.headers, location: response.headers.get('location'), html };
}

/** A GET of a console path in this browser; redirects not followed. */
async function view(jar: CookieJar, path: string): Promise<Answer> {
  return answerOf(await send(jar, consoleUrl(server.issuer, path), { headers: { accept: 'text/html' } }), `GET ${path}`);
}

/** The CSRF token of this browser's console session (one per session: any page shows it). */
async function csrfOf(jar: CookieJar): Promise<string> {
  const page = await view(jar, '/keys');
  assert.equal(page.status, 200, page.html.slice(0, 300));
  return csrfToken(page.html);
}

/** A form POST as the console's page sends it, with this browser's token unless `csrf` is given ('' for none). */
async function post(jar: CookieJar, path: string, fields: Record<string, string | string[]> = {}, csrf?: string): Promise<Answer> {
  const token = csrf ?? (await csrfOf(jar));
  const body = new URLSearchParams(token === '' ? {} : { csrf: token });
  for (const [name, value] of Object.entries(fields)) for (const item of [value].flat()) body.append(name, item);
  const response = await send(jar, consoleUrl(server.issuer, path), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' }, body: body.toString() });
  return answerOf(response, `POST ${path}`);
}

/** The text of an alert on a page (the validation or refusal message shown). */
const alertOf = (html: string, id: string) => new RegExp(`id="${id}"><span>([^<]*)</span>`).exec(html)?.[1];

const versionOf = (html: string) => {
  const version = /name="version" value="([^"]+)"/.exec(html)?.[1];
  ok(version, 'the edit form carries the version it shows');
  return version;
};

async function auditRows(types: string[], after = 0n) {
  await server.auditWriter.flush();
  const rows = await server.services.auditTrail.listAfter({ types }, after, 1000);
  return rows.map((row) => ({ ...row, data: row.data as Record<string, unknown> | null }));
}

const lastEventId = async () => {
  await server.auditWriter.flush();
  return server.services.auditTrail.lastId();
};

/** Whether a service client's secret gets a token at the token endpoint (what a secret is for). */
async function secretWorks(clientId: string, secret: string): Promise<boolean> {
  const response = await fetch(`${server.issuer}/token`, {
    method: 'POST',
    headers: { authorization: basicAuth(clientId, secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource: API, scope: API_SCOPE }),
  });
  await response.body?.cancel();
  if (response.status === 200) return true;
  assert.equal(response.status, 401, 'a wrong secret is invalid_client, nothing else');
  return false;
}

/**
 * assert.ok with a message always: without one, node 20 reads the expression back from the
 * source to word the failure, and through tsx's source maps that can spin instead of failing.
 */
function ok(value: unknown, message = 'expected a truthy value'): asserts value {
  assert.ok(value, message);
}

const newPerson = (roles: string[] = []) => newAdminTestPerson(server, 'console', roles);

describe('signed out', () => {
  test('every page starts the code flow of the console’s own client with PKCE S256, and comes back to the page asked for', async () => {
    const person = await newPerson();
    const paths = ['', '/clients', '/clients/portcullis-admin', '/resources', `/resources/${encodeURIComponent(adminResource)}`, '/users', `/users/${person.id}`, '/audit', '/audit?type=client.*', '/audit/tail?after=0', '/keys'];
    for (const path of paths) {
      const jar = new CookieJar();
      const start = await send(jar, consoleUrl(server.issuer, path));
      assert.equal(start.status, 302, path);
      await start.body?.cancel();
      const auth = new URL(start.headers.get('location')!);
      assert.equal(auth.origin + auth.pathname, `${server.issuer}/auth`, path);
      assert.equal(auth.searchParams.get('client_id'), 'portcullis-admin', path);
      assert.equal(auth.searchParams.get('response_type'), 'code', path);
      assert.equal(auth.searchParams.get('code_challenge_method'), 'S256', path);
      assert.match(auth.searchParams.get('code_challenge') ?? '', /^[A-Za-z0-9_-]{43}$/, path);
      assert.equal(auth.searchParams.get('redirect_uri'), `${server.issuer}/admin/callback`, path);
      ok(auth.searchParams.get('state') && auth.searchParams.get('nonce'), path);
      assert.equal(jar.get('portcullis.admin'), undefined, `${path}: no console session`);
    }
    // Signed in from a deep link, the console lands on that page.
    const deep = await signInToConsole(server.issuer, await newPerson(['admin']), new CookieJar(), '/clients/portcullis-admin');
    assert.equal(deep.page.response.status, 200);
    assert.equal(deep.page.url.pathname, '/admin/clients/portcullis-admin');
  });

  test('the live tail gives no events to a browser without a session, nor to one with a forged session cookie', async () => {
    for (const forged of [false, true]) {
      const jar = new CookieJar();
      // An unsigned cookie naming the admin: the signature is what makes a session.
      if (forged) jar.set('portcullis.admin', Buffer.from(JSON.stringify({ sub: admin.id, grantId: 'x', iat: Math.floor(Date.now() / 1000) })).toString('base64url'));
      const answer = await send(jar, consoleUrl(server.issuer, '/audit/tail?after=0'), { headers: { accept: 'application/json' } });
      assert.equal(answer.status, 302);
      assert.doesNotMatch(await answer.text(), /"events"/);
    }
  });

  test('a form posted without a session goes back to the console (303) and changes nothing, whatever it carries', async () => {
    const person = await newPerson();
    const created = await server.services.clients.create({ type: 'service', name: 'Untouched', resources: [API], scopes: [API_SCOPE] });
    const clientId = created.client.clientId;
    const before = await server.services.clients.find(clientId);
    const from = await lastEventId();
    const forms: [string, Record<string, string>][] = [
      ['/clients', { type: 'service', name: 'Forged client' }],
      [`/clients/${clientId}`, { name: 'Forged name', version: before!.updatedAt.toISOString() }],
      [`/clients/${clientId}/secret`, {}],
      [`/clients/${clientId}/delete`, { confirm: 'yes' }],
      ['/resources', { indicator: 'https://forged.example.com', name: 'Forged', accessTokenFormat: 'jwt', accessTokenTtl: '60', scopes: '' }],
      [`/resources/${encodeURIComponent(API)}/delete`, { confirm: 'yes' }],
      ['/users', { email: `forged-${randomUUID()}@example.com`, name: 'Forged', roles: 'admin' }],
      [`/users/${person.id}`, { name: 'Forged', roles: 'admin' }],
      [`/users/${person.id}/disable`, {}],
      [`/users/${person.id}/reset-factors`, {}],
      [`/users/${person.id}/sign-out`, {}],
      ['/keys/rotate', { algs: 'ES256' }],
      ['/sign-out', {}],
    ];
    // Forged with a made-up token, and once with the admin's own token but without their cookies.
    const token = await csrfOf(adminJar);
    for (const [path, fields] of forms) {
      for (const csrf of ['made-up', token]) {
        const answer = await post(new CookieJar(), path, fields, csrf);
        assert.equal(answer.status, 303, `${path}: ${answer.html.slice(0, 200)}`);
        assert.equal(answer.location, '/admin', path);
      }
    }
    // A JSON body is refused before anything reads it (415), session or not.
    const json = await send(new CookieJar(), consoleUrl(server.issuer, '/users'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'json@example.com', name: 'J' }) });
    assert.equal(json.status, 415);
    await json.body?.cancel();

    assert.deepEqual(await server.services.clients.find(clientId), before, 'the client is as it was');
    assert.equal(await secretWorks(clientId, created.clientSecret!), true);
    ok(await server.services.resources.find(API));
    const account = await server.services.accounts.findById(person.id);
    assert.equal(account?.disabled, false);
    assert.deepEqual(account?.roles, []);
    assert.equal(await server.services.accounts.findByIdOrEmail('json@example.com'), undefined);
    assert.deepEqual(await auditRows(['client.*', 'resource.*', 'user.*', 'key.*', 'mfa.*', 'grant.*'], from), [], 'nothing was done, so nothing was audited');
  });
});

describe('who may use the console', () => {
  test('a person without the admin role signs in and is refused (403): the console grant made ends, no session, the attempt audited', async () => {
    const person = await newPerson(['editor']);
    const from = await lastEventId();
    const { jar, page } = await signInToConsole(server.issuer, person);
    assert.equal(page.response.status, 403);
    assert.match(page.html, /Administrators only/);
    assertPageHeaders(page.response.headers, 'the refusal');
    assert.equal(jar.get('portcullis.admin'), undefined, 'no console session cookie');
    const grants = await server.services.grants.listForAccount(person.id);
    assert.deepEqual(grants.filter((grant) => grant.clientId === 'portcullis-admin'), [], 'the grant the sign-in made is revoked');
    const refused = await auditRows(['admin.refused'], from);
    assert.equal(refused.length, 1);
    assert.equal(refused[0]!.accountId, person.id);
    assert.equal(refused[0]!.actor, person.id);
    assert.equal(refused[0]!.clientId, 'portcullis-admin');
    // Back at the console, they are sent to sign in again, and refused again: never a page.
    const again = await view(jar, '/clients');
    assert.equal(again.status, 302);
    assert.match(again.location ?? '', /\/auth\?/);
  });

  test('an admin whose role is taken away while signed in is refused at the next request, and the console grant ends: the role given back does not bring that session back', async () => {
    const person = await newPerson(['admin']);
    const { jar } = await signInToConsole(server.issuer, person);
    const token = await csrfOf(jar);
    assert.equal((await view(jar, '/users')).status, 200);
    const [grant] = (await server.services.grants.listForAccount(person.id)).filter((g) => g.clientId === 'portcullis-admin');
    assert.ok(grant, 'the sign-in made a console grant');
    await server.services.accounts.update(person.id, { roles: ['editor'] });
    const page = await view(jar, '/users');
    assert.equal(page.status, 403);
    assert.match(page.html, /Administrators only/);
    assert.equal(await server.services.grants.find(grant.id), undefined, 'the console grant ended with the role');
    await server.services.accounts.update(person.id, { roles: ['admin'] });
    const again = await send(jar, consoleUrl(server.issuer, '/users'));
    assert.equal(again.status, 302, 'the role given back, the old session is not: a new sign-in');
    assert.equal(new URL(again.headers.get('location')!).pathname, '/auth');
    const email = `after-demotion-${randomUUID()}@example.com`;
    const form = await post(jar, '/users', { email, name: 'Made after demotion', roles: 'admin' }, token);
    assert.equal(form.status, 303);
    assert.equal(await server.services.accounts.findByIdOrEmail(email), undefined, 'nothing was created');
    const tail = await send(jar, consoleUrl(server.issuer, '/audit/tail?after=0'));
    assert.doesNotMatch(await tail.text(), /"events"/);
  });

  test('the console follows the admin API’s scope bindings: admin:write bound to another role leaves an admin read-only here too, and they cannot give themself that role', async () => {
    const person = await newPerson(['admin']);
    const { jar } = await signInToConsole(server.issuer, person);
    const token = await csrfOf(jar);
    const before = (await server.services.resources.find(adminResource))!;
    await server.services.resources.update(adminResource, { scopes: before.scopes.map((scope) => (scope.name === 'admin:write' ? { ...scope, roles: ['superadmin'] } : scope)) });
    try {
      const from = await lastEventId();
      assert.equal((await view(jar, '/users')).status, 200, 'reading is still theirs');
      const own = await post(jar, `/users/${person.id}`, { version: versionOf((await view(jar, `/users/${person.id}`)).html), name: 'Person', roles: 'admin superadmin' }, token);
      assert.equal(own.status, 403);
      assert.match(own.html, /Read only/);
      assert.deepEqual((await server.services.accounts.findById(person.id))!.roles, ['admin'], 'no role was given');
      const email = `read-only-${randomUUID()}@example.com`;
      assert.equal((await post(jar, '/users', { email, name: 'Not made' }, token)).status, 403);
      assert.equal(await server.services.accounts.findByIdOrEmail(email), undefined);
      const refused = await auditRows(['admin.refused'], from);
      assert.equal(refused.length, 1, 'audited once in the window, not per request');
      assert.equal(refused[0]!.data?.scope, 'admin:write');
      const out = await post(jar, '/sign-out', {}, token);
      assert.equal(out.status, 303, 'anyone signed in may sign out');
    } finally {
      await server.services.resources.update(adminResource, { scopes: before.scopes.map((scope) => ({ ...scope, roles: [...scope.roles] })) });
    }
  });

  test('an admin disabled while signed in is signed out of the console at the next request', async () => {
    const person = await newPerson(['admin']);
    const { jar } = await signInToConsole(server.issuer, person);
    const token = await csrfOf(jar);
    await server.services.accounts.setDisabled(person.id, true);
    const page = await view(jar, '/clients');
    assert.equal(page.status, 302);
    assert.match(page.location ?? '', /\/auth\?/);
    const target = await newPerson();
    const form = await post(jar, `/users/${target.id}/disable`, {}, token);
    assert.equal(form.status, 303);
    assert.equal(form.location, '/admin');
    assert.equal((await server.services.accounts.findById(target.id))?.disabled, false);
  });

  test('a person who cancels the sign-in gets the sign-in’s own page (400, start again), not the refusal of non-admins', async () => {
    const jar = new CookieJar();
    const login = await openPage(jar, consoleUrl(server.issuer));
    assert.equal(login.url.pathname.split('/')[1], 'interaction', 'the login page');
    const cancelled = await submitForm(jar, new URL(`${login.url.pathname}/abort`, server.issuer), { csrf: csrfToken(login.html) });
    const landed = await openPage(jar, new URL(cancelled.headers.get('location')!, server.issuer));
    assert.equal(landed.url.pathname, '/admin/callback');
    assert.equal(landed.response.status, 400);
    assert.doesNotMatch(landed.html, /Administrators only/);
    assert.match(landed.html, /<code>access_denied<\/code>/);
    assert.match(landed.html, /href="\/admin"/, 'starting again is signing in to the console again');
  });

  test('the console client’s authorization request written by someone else is refused before the engine, even in a signed-in browser', async () => {
    const foreign = () => authorizationRequest(server.issuer, { client_id: 'portcullis-admin', redirect_uri: `${server.issuer}/admin/callback`, scope: 'openid email profile' });
    // A browser with no attempt of its own.
    const bare = await send(new CookieJar(), foreign().url);
    assert.equal(bare.status, 400);
    assert.match(await bare.text(), /<code>invalid_request<\/code>/, 'our refusal page, before the engine');
    assert.equal(bare.headers.get('location'), null);
    // The admin's own browser, signed in to Portcullis, with an attempt of its own under way:
    // the attacker's request (their state) gets no code; the browser's own one does.
    const victim = adminJar.copy();
    victim.delete('portcullis.admin');
    const own = await send(victim, consoleUrl(server.issuer));
    assert.equal(own.status, 302);
    const ownAuth = new URL(own.headers.get('location')!);
    const stolen = await send(victim, foreign().url);
    assert.equal(stolen.status, 400);
    assert.equal(stolen.headers.get('location'), null, 'no redirect, so no code');
    // The same, posted as a form to the authorization endpoint.
    const { url } = foreign();
    const posted = await send(victim, new URL('/auth', server.issuer), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: url.searchParams.toString() });
    assert.equal(posted.status, 400);
    assert.equal(posted.headers.get('location'), null);
    // Its own request goes through (a code for the console's callback, after a second factor is not asked again).
    const served = await send(victim, ownAuth);
    ok(served.status === 302 || served.status === 303, `the browser's own request reaches the engine: ${served.status}`);
    ok(served.headers.get('location'), 'the engine answers it with a redirect (the code, or its own sign-in)');
  });

  test('with the console off, the console’s client left in the registry serves nobody: its authorization requests are refused before the engine', async () => {
    const off = await startTestServer({ ADMIN_API: 'false' });
    try {
      // As a database keeps it from when the console was on.
      await off.services.clients.create(adminConsoleRegistration(off.issuer).registration);
      const { url } = authorizationRequest(off.issuer, { client_id: 'portcullis-admin', redirect_uri: `${off.issuer}/admin/callback`, scope: 'openid email profile' });
      const refused = await send(new CookieJar(), url);
      assert.equal(refused.status, 400);
      assert.equal(refused.headers.get('location'), null, 'no redirect, so no code');
      assert.match(await refused.text(), /<code>invalid_request<\/code>/);
    } finally {
      await off.close();
    }
  });
});

describe('CSRF', () => {
  test('a form without the token, with another admin’s token, with another admin’s token and cookie, or of another content type is refused and changes nothing', async () => {
    const other = await newPerson(['admin']);
    const otherJar = (await signInToConsole(server.issuer, other)).jar;
    const otherToken = await csrfOf(otherJar);
    const count = (await server.services.clients.list()).length;
    const from = await lastEventId();
    const fields = { type: 'service', name: 'CSRF client' };

    assert.equal((await post(adminJar, '/clients', fields, '')).status, 403, 'no token');
    assert.equal((await post(adminJar, '/clients', fields, otherToken)).status, 403, 'another admin’s token');
    // The other admin's secret cookie and its token, with this admin's session: the token is bound to the session.
    const mixed = adminJar.copy();
    mixed.set('portcullis.csrf-admin', otherJar.get('portcullis.csrf-admin')!);
    mixed.set('portcullis.csrf-admin.sig', otherJar.get('portcullis.csrf-admin.sig')!);
    assert.equal((await post(mixed, '/clients', fields, otherToken)).status, 403, 'a token bound to another session');
    // A cross-site form can send text/plain without a preflight; JSON is no form.
    const token = await csrfOf(adminJar);
    for (const type of ['text/plain', 'application/json', 'multipart/form-data; boundary=x']) {
      const body = type === 'application/json' ? JSON.stringify({ csrf: token, ...fields }) : new URLSearchParams({ csrf: token, ...fields }).toString();
      const answer = await send(adminJar, consoleUrl(server.issuer, '/clients'), { method: 'POST', headers: { 'content-type': type }, body });
      assert.equal(answer.status, 415, type);
      await answer.body?.cancel();
    }
    // A token of an earlier session of the same admin is worth nothing once signed in again.
    const user = await newPerson();
    assert.equal((await post(adminJar, `/users/${user.id}/disable`, {}, otherToken)).status, 403);

    assert.equal((await server.services.clients.list()).length, count, 'no client was registered');
    assert.equal((await server.services.accounts.findById(user.id))?.disabled, false);
    assert.deepEqual(await auditRows(['client.*', 'user.*'], from).then((rows) => rows.filter((row) => row.accountId !== user.id || row.type !== 'user.created')), []);
    // The admin's own token still works (the refusals changed nothing for them).
    assert.equal((await post(adminJar, `/users/${user.id}/disable`)).status, 303);
  });

  test('a token from a session that ended does not work for the next session in the same browser', async () => {
    const person = await newPerson(['admin']);
    const { jar } = await signInToConsole(server.issuer, person);
    const oldToken = await csrfOf(jar);
    assert.equal((await post(jar, '/sign-out', {}, oldToken)).status, 303);
    await signInToConsole(server.issuer, person, jar);
    const user = await newPerson();
    assert.equal((await post(jar, `/users/${user.id}/disable`, {}, oldToken)).status, 403);
    assert.equal((await server.services.accounts.findById(user.id))?.disabled, false);
  });
});

describe('clients', () => {
  test('register a service client: the secret is on the answer page once, works, and is nowhere after (pages, audit trail)', async () => {
    const from = await lastEventId();
    const answer = await post(adminJar, '/clients', { type: 'service', name: 'Console service', resources: API, scopes: API_SCOPE });
    assert.equal(answer.status, 200, answer.html.slice(0, 500));
    const clientId = /id="client-id">([^<]+)</.exec(answer.html)?.[1];
    const secret = /id="client-secret">([^<]+)</.exec(answer.html)?.[1];
    ok(clientId && secret);
    assert.equal(await secretWorks(clientId, secret), true, 'the shown secret is the client’s');
    const client = await server.services.clients.find(clientId);
    assert.equal(client?.type, 'service');
    assert.deepEqual(client?.resources, [API]);

    for (const path of [`/clients/${clientId}`, '/clients', `/audit?clientId=${clientId}`, '/audit', '']) {
      const page = await view(adminJar, path);
      assert.equal(page.status, 200, path);
      ok(!page.html.includes(secret), `${path} does not show the secret`);
    }
    const rows = await auditRows(['client.*'], from);
    const created = rows.filter((row) => row.type === 'client.created' && row.clientId === clientId);
    assert.equal(created.length, 1);
    assert.equal(created[0]!.actor, admin.id, 'the admin at the console is the actor');
    ok(!JSON.stringify(rows).includes(secret), 'the secret is not in the audit trail');
  });

  test('register a web client with its redirect URIs: a secret shown once, the URIs stored as typed (one per line)', async () => {
    const answer = await post(adminJar, '/clients', { type: 'web', name: 'Console web app', redirectUris: 'https://app.example.com/cb\r\nhttps://app.example.com/cb2', postLogoutRedirectUris: 'https://app.example.com/bye', corsOrigins: '' });
    assert.equal(answer.status, 200, answer.html.slice(0, 500));
    const clientId = /id="client-id">([^<]+)</.exec(answer.html)![1]!;
    const secret = /id="client-secret">([^<]+)</.exec(answer.html)![1]!;
    const client = await server.services.clients.find(clientId);
    assert.equal(client?.type, 'web');
    assert.deepEqual(client?.redirectUris, ['https://app.example.com/cb', 'https://app.example.com/cb2']);
    assert.deepEqual(client?.postLogoutRedirectUris, ['https://app.example.com/bye']);
    ok(!(await view(adminJar, `/clients/${clientId}`)).html.includes(secret));
  });

  test('invalid input is a 400 page with the validation message, escaped, and nothing is written', async () => {
    const before = await server.services.clients.list();
    const from = await lastEventId();
    const cases: [string, Record<string, string>, RegExp][] = [
      ['a redirect URI with a fragment', { type: 'web', name: 'Fragment', redirectUris: 'https://app.example.com/cb#frag' }, /redirect/i],
      ['a javascript: redirect URI', { type: 'web', name: 'Script URI', redirectUris: 'javascript:alert(1)' }, /redirect/i],
      ['an unknown type', { type: 'wizard', name: 'Wizard' }, /type/i],
      ['no name', { type: 'service', name: '' }, /name/i],
      ['an unknown grant type', { type: 'web', name: 'Grants', redirectUris: 'https://app.example.com/cb', grantTypes: 'password' }, /grant/i],
    ];
    for (const [what, fields, message] of cases) {
      const answer = await post(adminJar, '/clients', fields);
      assert.equal(answer.status, 400, `${what}: ${answer.html.slice(0, 300)}`);
      const shown = alertOf(answer.html, 'create-error');
      ok(shown, `${what}: the message is on the form`);
      assert.match(shown, message, what);
    }
    // Markup in a field is shown as text, in the form it is put back into and in the message.
    const script = '<script>alert("console")</script>';
    const hostile = await post(adminJar, '/clients', { type: 'web', name: script, redirectUris: `https://app.example.com/cb#${script}` });
    assert.equal(hostile.status, 400);
    ok(!hostile.html.includes('<script>alert'), 'no markup from the request reaches the page');
    ok(hostile.html.includes('&lt;script&gt;alert('), 'it is shown escaped');

    assert.deepEqual(await server.services.clients.list(), before, 'nothing was registered');
    assert.deepEqual(await auditRows(['client.*'], from), []);
  });

  test('edit from the version shown; a stale version (someone saved first) is a 412 and the first change stands', async () => {
    const { client } = await server.services.clients.create({ type: 'web', name: 'Edited at the console', redirectUris: ['https://edit.example.com/cb'] });
    const path = `/clients/${client.clientId}`;
    const shown = await view(adminJar, path);
    assert.equal(shown.status, 200);
    const version = versionOf(shown.html);
    // A second admin opened the same page, in another tab.
    const saved = await post(adminJar, path, { version, name: 'First save', redirectUris: 'https://edit.example.com/cb\nhttps://edit.example.com/other', grantTypes: ['authorization_code', 'refresh_token'], scopes: 'openid email' });
    assert.equal(saved.status, 303, saved.html.slice(0, 300));
    assert.equal(saved.location, `/admin${path}?done=saved`);
    const after1 = await server.services.clients.find(client.clientId);
    assert.equal(after1?.name, 'First save');
    assert.deepEqual(after1?.redirectUris, ['https://edit.example.com/cb', 'https://edit.example.com/other']);
    assert.match((await view(adminJar, `${path}?done=saved`)).html, /The client was saved/);

    const stale = await post(adminJar, path, { version, name: 'Second save, from the old page', redirectUris: 'https://edit.example.com/cb' });
    assert.equal(stale.status, 412);
    ok(alertOf(stale.html, 'edit-error'), 'the refusal is on the edit form');
    assert.equal((await server.services.clients.find(client.clientId))?.name, 'First save');
    // The page shows what is saved now (the first save's), with its version: sent again as
    // it stands, it would undo nothing of the first save.
    assert.match(stale.html, /name="name" type="text" required maxlength="200" value="First save"/);
    assert.match(stale.html, /https:\/\/edit\.example\.com\/other/);
    assert.equal(versionOf(stale.html), after1.updatedAt.toISOString());
    // A save that changes nothing writes nothing (and audits nothing).
    const unchanged = await post(adminJar, path, { version: versionOf(stale.html), name: 'First save', redirectUris: 'https://edit.example.com/cb\nhttps://edit.example.com/other', grantTypes: ['authorization_code', 'refresh_token'], scopes: 'openid email' });
    assert.equal(unchanged.location, `/admin${path}?done=unchanged`);
    assert.equal((await server.services.clients.find(client.clientId))?.updatedAt.getTime(), after1.updatedAt.getTime());
    // No version at all, or one that is no date, is stale too.
    for (const bad of [undefined, 'yesterday']) {
      const answer = await post(adminJar, path, { ...(bad && { version: bad }), name: 'Versionless', redirectUris: 'https://edit.example.com/cb' });
      assert.equal(answer.status, 412, String(bad));
    }
    assert.equal((await server.services.clients.find(client.clientId))?.name, 'First save');
    // Invalid input on the edit form: 400, nothing changed.
    const invalid = await post(adminJar, path, { version: versionOf((await view(adminJar, path)).html), name: 'Invalid edit', redirectUris: 'https://edit.example.com/cb#x' });
    assert.equal(invalid.status, 400);
    assert.equal((await server.services.clients.find(client.clientId))?.name, 'First save');

    const rows = (await auditRows(['client.updated'])).filter((row) => row.clientId === client.clientId);
    assert.equal(rows.length, 1, 'one change, one row');
    assert.equal(rows[0]!.actor, admin.id);
  });

  test('rotate the secret: the new one is shown once and works, the old one stops; a public client has none to rotate', async () => {
    const created = await server.services.clients.create({ type: 'service', name: 'Rotated at the console', resources: [API], scopes: [API_SCOPE] });
    const clientId = created.client.clientId;
    const from = await lastEventId();
    const answer = await post(adminJar, `/clients/${clientId}/secret`);
    assert.equal(answer.status, 200);
    const secret = /id="client-secret">([^<]+)</.exec(answer.html)?.[1];
    ok(secret && secret !== created.clientSecret);
    assert.equal(await secretWorks(clientId, secret), true);
    assert.equal(await secretWorks(clientId, created.clientSecret!), false, 'the old secret stopped');
    ok(!(await view(adminJar, `/clients/${clientId}`)).html.includes(secret));
    const rows = await auditRows(['client.secret_rotated'], from);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.actor, admin.id);
    ok(!JSON.stringify(rows).includes(secret));

    const spa = await server.services.clients.create({ type: 'spa', name: 'Public', redirectUris: ['https://spa.example.com/cb'] });
    const none = await post(adminJar, `/clients/${spa.client.clientId}/secret`);
    ok(none.status >= 400 && none.status < 500, String(none.status));
    ok(alertOf(none.html, 'secret-error'), 'the page says why, though it shows no rotate button');
    assert.equal((await server.services.clients.find(spa.client.clientId))?.authMethod, spa.client.authMethod);
  });

  test('delete needs the box ticked; the console’s and the account page’s own clients cannot be deleted; audited with the actor', async () => {
    const created = await server.services.clients.create({ type: 'service', name: 'Deleted at the console', resources: [API], scopes: [API_SCOPE] });
    const clientId = created.client.clientId;
    const unconfirmed = await post(adminJar, `/clients/${clientId}/delete`);
    assert.equal(unconfirmed.status, 400);
    assert.match(alertOf(unconfirmed.html, 'delete-error') ?? '', /Tick the box/);
    ok(await server.services.clients.find(clientId));
    for (const own of ['portcullis-admin', 'portcullis-account']) {
      const refused = await post(adminJar, `/clients/${own}/delete`, { confirm: 'yes' });
      assert.equal(refused.status, 409, own);
      ok(await server.services.clients.find(own), `${own} is still there`);
    }
    const from = await lastEventId();
    const deleted = await post(adminJar, `/clients/${clientId}/delete`, { confirm: 'yes' });
    assert.equal(deleted.status, 303);
    assert.equal(deleted.location, '/admin/clients?done=deleted');
    assert.equal(await server.services.clients.find(clientId), undefined);
    assert.equal(await secretWorks(clientId, created.clientSecret!), false);
    assert.equal((await post(adminJar, `/clients/${clientId}/delete`, { confirm: 'yes' })).status, 303, 'already gone is the outcome asked for');
    assert.equal((await view(adminJar, `/clients/${clientId}`)).status, 404);
    const rows = await auditRows(['client.deleted'], from);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.clientId, clientId);
    assert.equal(rows[0]!.actor, admin.id);
    // The console still works: its own client was never touched.
    assert.equal((await view(adminJar, '/clients')).status, 200);
  });
  test('the pages’ own clients: only their name and require-MFA flag change here, whatever else the form carries', async () => {
    const before = (await server.services.clients.find('portcullis-admin'))!;
    const page = await view(adminJar, '/clients/portcullis-admin');
    assert.doesNotMatch(page.html, /name="redirectUris"/, 'the form offers only what may change');
    const saved = await post(adminJar, '/clients/portcullis-admin', {
      version: versionOf(page.html),
      name: 'Our console',
      requireMfa: 'true',
      redirectUris: 'https://evil.example/cb',
      grantTypes: ['authorization_code', 'refresh_token'],
      scopes: 'openid',
    });
    assert.equal(saved.status, 303, saved.html.slice(0, 300));
    const after = (await server.services.clients.find('portcullis-admin'))!;
    assert.equal(after.name, 'Our console');
    assert.equal(after.requireMfa, true);
    assert.deepEqual([after.redirectUris, after.grantTypes, after.scopes, after.firstParty], [before.redirectUris, before.grantTypes, before.scopes, before.firstParty]);
    // Put back as it was, for the tests after.
    await server.services.clients.update('portcullis-admin', { name: before.name, requireMfa: before.requireMfa });
  });
});

/** Scope rows as the resource form sends them: a name, a description and roles field per row. */
function scopeRows(...rows: [string, string, string][]) {
  return { scopeName: rows.map((row) => row[0]), scopeDescription: rows.map((row) => row[1]), scopeRoles: rows.map((row) => row[2]) };
}

describe('resource servers', () => {
  test('register with scope rows (name, description, roles), edit from the version shown, a stale version is 412', async () => {
    const indicator = `https://api-${randomUUID().slice(0, 8)}.example.com`;
    const from = await lastEventId();
    const created = await post(adminJar, '/resources', { indicator, name: 'Console API', accessTokenFormat: 'jwt', accessTokenTtl: '600', ...scopeRows(['read:things', 'Read things', ''], ['write:things', 'Write | things\nnot a new scope', 'editor admin'], ['', '', '']) });
    assert.equal(created.status, 303, created.html.slice(0, 500));
    assert.equal(created.location, `/admin/resources/${encodeURIComponent(indicator)}?done=created`);
    const resource = await server.services.resources.find(indicator);
    assert.equal(resource?.accessTokenTtl, 600);
    assert.deepEqual(
      resource?.scopes.map((scope) => [scope.name, scope.description, [...scope.roles]]),
      [
        ['read:things', 'Read things', []],
        // A | or a line break in a description is text, never another scope or role.
        ['write:things', 'Write | things\nnot a new scope', ['editor', 'admin']],
      ],
    );
    const path = `/resources/${encodeURIComponent(indicator)}`;
    const page = await view(adminJar, path);
    assert.equal(page.status, 200);
    assert.match(page.html, /name="scopeName" type="text" maxlength="200" spellcheck="false" value="write:things"/);
    assert.match(page.html, /name="scopeRoles" type="text" maxlength="1000" spellcheck="false" value="editor admin"/);
    const version = versionOf(page.html);
    const saved = await post(adminJar, path, { version, name: 'Console API, renamed', accessTokenFormat: 'opaque', accessTokenTtl: '300', ...scopeRows(['read:things', 'Read', 'viewer'], ['', '', '']) });
    assert.equal(saved.status, 303, saved.html.slice(0, 300));
    const changed = await server.services.resources.find(indicator);
    assert.equal(changed?.name, 'Console API, renamed');
    assert.equal(changed?.accessTokenFormat, 'opaque');
    assert.deepEqual(changed?.scopes.map((scope) => [scope.name, [...scope.roles]]), [['read:things', ['viewer']]]);

    const stale = await post(adminJar, path, { version, name: 'From the old page', accessTokenFormat: 'jwt', accessTokenTtl: '300', ...scopeRows() });
    assert.equal(stale.status, 412);
    assert.equal((await server.services.resources.find(indicator))?.name, 'Console API, renamed');

    const rows = await auditRows(['resource.*'], from);
    assert.deepEqual(rows.map((row) => row.type), ['resource.created', 'resource.updated']);
    ok(rows.every((row) => row.actor === admin.id));
  });

  test('invalid input is a 400 page with the message and nothing is written', async () => {
    const before = await server.services.resources.list();
    for (const fields of [
      { indicator: 'not a url', name: 'Bad', accessTokenFormat: 'jwt', accessTokenTtl: '60' },
      { indicator: 'https://bad-ttl.example.com', name: 'Bad', accessTokenFormat: 'jwt', accessTokenTtl: 'soon' },
      { indicator: 'https://bad-format.example.com', name: 'Bad', accessTokenFormat: 'paper', accessTokenTtl: '60' },
      { indicator: 'https://bad-fragment.example.com/#x', name: 'Bad', accessTokenFormat: 'jwt', accessTokenTtl: '60' },
      { indicator: 'https://bad-scope.example.com', name: '<b>Bad</b>', accessTokenFormat: 'jwt', accessTokenTtl: '60', ...scopeRows(['has space', 'x', '']) },
      { indicator: 'https://twice.example.com', name: 'Bad', accessTokenFormat: 'jwt', accessTokenTtl: '60', ...scopeRows(['same', '', ''], ['same', '', '']) },
      // Rows that do not line up: a forged form.
      { indicator: 'https://forged-rows.example.com', name: 'Bad', accessTokenFormat: 'jwt', accessTokenTtl: '60', scopeName: ['a', 'b'], scopeDescription: [''], scopeRoles: ['', ''] },
    ] as Record<string, string | string[]>[]) {
      const answer = await post(adminJar, '/resources', fields);
      assert.equal(answer.status, 400, JSON.stringify(fields));
      ok(alertOf(answer.html, 'create-error'), JSON.stringify(fields));
      ok(!answer.html.includes('<b>Bad</b>'));
    }
    assert.deepEqual(await server.services.resources.list(), before);
  });

  test('the admin API’s own resource server is never deleted, nor its scopes left without a role', async () => {
    const path = `/resources/${encodeURIComponent(adminResource)}`;
    const before = await server.services.resources.find(adminResource);
    ok(before);
    const refused = await post(adminJar, `${path}/delete`, { confirm: 'yes' });
    assert.equal(refused.status, 409, refused.html.slice(0, 300));
    ok(alertOf(refused.html, 'delete-error'));
    const emptied = await post(adminJar, path, { version: versionOf((await view(adminJar, path)).html), name: before.name, accessTokenFormat: before.accessTokenFormat, accessTokenTtl: String(before.accessTokenTtl), ...scopeRows(['admin:read', 'Read', ''], ['admin:write', 'Write', '']) });
    ok(emptied.status >= 400 && emptied.status < 500, String(emptied.status));
    ok(alertOf(emptied.html, 'edit-error'));
    assert.deepEqual(await server.services.resources.find(adminResource), before, 'as it was');
  });

  test('delete: refused while a client is registered for it, needs the box, then gone once', async () => {
    const indicator = `https://deleted-${randomUUID().slice(0, 8)}.example.com`;
    await server.services.resources.create({ indicator, name: 'Deleted API', scopes: [{ name: 'x' }] });
    const user = await server.services.clients.create({ type: 'service', name: 'Uses the API', resources: [indicator], scopes: ['x'] });
    const path = `/resources/${encodeURIComponent(indicator)}`;
    assert.equal((await post(adminJar, `${path}/delete`)).status, 400, 'not confirmed');
    const inUse = await post(adminJar, `${path}/delete`, { confirm: 'yes' });
    assert.equal(inUse.status, 409);
    ok(await server.services.resources.find(indicator));
    await server.services.clients.delete(user.client.clientId);
    const from = await lastEventId();
    const deleted = await post(adminJar, `${path}/delete`, { confirm: 'yes' });
    assert.equal(deleted.status, 303);
    assert.equal(await server.services.resources.find(indicator), undefined);
    assert.equal((await post(adminJar, `${path}/delete`, { confirm: 'yes' })).status, 303, 'already gone');
    const rows = await auditRows(['resource.deleted'], from);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.actor, admin.id);
  });
});

describe('users', () => {
  test('search finds by email part; create with and without a password; a duplicate is refused and the password never shown back', async () => {
    const tag = randomUUID().slice(0, 8);
    const plain = `plain-${tag}@example.com`;
    const from = await lastEventId();
    const created = await post(adminJar, '/users', { email: plain, name: 'No password', roles: 'editor viewer' });
    assert.equal(created.status, 303, created.html.slice(0, 400));
    const account = await server.services.accounts.findByIdOrEmail(plain);
    ok(account);
    assert.equal(created.location, `/admin/users/${account.id}?done=created`);
    assert.deepEqual(account.roles, ['editor', 'viewer']);
    assert.equal(account.passwordHash ?? null, null);

    const withPassword = `password-${tag}@example.com`;
    const password = `a long console password ${tag}`;
    assert.equal((await post(adminJar, '/users', { email: withPassword, name: 'With password', password, emailVerified: 'true' })).status, 303);
    const result = await server.services.accounts.authenticate(withPassword, password);
    assert.equal(result.ok, true, 'the password set at the console signs in');

    const duplicate = await post(adminJar, '/users', { email: plain.toUpperCase(), name: 'Again', password: 'another secret password here' });
    assert.equal(duplicate.status, 409);
    ok(alertOf(duplicate.html, 'create-error'));
    ok(!duplicate.html.includes('another secret password here'), 'the password is never put back');
    const invalid = await post(adminJar, '/users', { email: 'not an email', name: '<i>x</i>' });
    assert.equal(invalid.status, 400);
    ok(!invalid.html.includes('<i>x</i>'));

    const search = await view(adminJar, `/users?q=${tag}`);
    assert.equal(search.status, 200);
    ok(search.html.includes(plain) && search.html.includes(withPassword));
    ok(!search.html.includes(`href="/admin/users/${admin.id}"`), 'only matches');
    const none = await view(adminJar, `/users?q=${randomUUID()}`);
    assert.match(none.html, /No account matches/);
    // A cursor that is no id is refused as the admin API refuses it (400 with the reason), never a 500.
    const junk = await view(adminJar, `/users?after=${encodeURIComponent("' or 1=1 --")}`);
    assert.equal(junk.status, 400);
    assert.match(alertOf(junk.html, 'search-error') ?? '', /cursor/);

    const rows = (await auditRows(['user.created'], from)).filter((row) => row.accountId === account.id);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.actor, admin.id);
  });

  test('edit roles from the version shown; a stale version is 412', async () => {
    const person = await newPerson(['viewer']);
    const path = `/users/${person.id}`;
    const version = versionOf((await view(adminJar, path)).html);
    const saved = await post(adminJar, path, { version, name: 'Renamed', roles: 'viewer editor', emailVerified: 'true' });
    assert.equal(saved.status, 303, saved.html.slice(0, 300));
    const account = await server.services.accounts.findById(person.id);
    assert.deepEqual(account?.roles, ['viewer', 'editor']);
    assert.equal(account?.name, 'Renamed');
    const stale = await post(adminJar, path, { version, name: 'Stale', roles: '' });
    assert.equal(stale.status, 412);
    assert.deepEqual((await server.services.accounts.findById(person.id))?.roles, ['viewer', 'editor']);
    const rows = (await auditRows(['user.updated'])).filter((row) => row.accountId === person.id);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.actor, admin.id);
  });

  test('the admin cannot disable themself nor take their own admin role (409), and stays in', async () => {
    const path = `/users/${admin.id}`;
    const disable = await post(adminJar, `${path}/disable`);
    assert.equal(disable.status, 409);
    assert.match(alertOf(disable.html, 'standing-error') ?? '', /your own account/);
    const demote = await post(adminJar, path, { version: versionOf((await view(adminJar, path)).html), name: 'Admin', roles: 'editor' });
    assert.equal(demote.status, 409);
    assert.match(alertOf(demote.html, 'edit-error') ?? '', /admin role/);
    const account = await server.services.accounts.findById(admin.id);
    assert.equal(account?.disabled, false);
    assert.deepEqual(account?.roles, ['admin']);
    assert.equal((await view(adminJar, '/users')).status, 200, 'still signed in');
  });

  test('disable another person: their sessions end at once; enable; unblock; each audited with the admin as actor', async () => {
    const person = await newPerson();
    const { jar } = await signInToAccountPage(server.issuer, person.email, person.password);
    assert.equal(await signedOutOfAccountPage(server.issuer, jar), false);
    const from = await lastEventId();
    const disabled = await post(adminJar, `/users/${person.id}/disable`);
    assert.equal(disabled.status, 303);
    assert.equal(disabled.location, `/admin/users/${person.id}?done=disabled`);
    assert.equal((await server.services.accounts.findById(person.id))?.disabled, true);
    assert.equal(await signedOutOfAccountPage(server.issuer, jar), true, 'their account page session ended');
    assert.deepEqual(await server.services.grants.listSessions(person.id), []);
    assert.deepEqual(await server.services.grants.listForAccount(person.id), []);
    assert.match((await view(adminJar, `/users/${person.id}`)).html, /disabled/);

    assert.equal((await post(adminJar, `/users/${person.id}/enable`)).status, 303);
    assert.equal((await server.services.accounts.findById(person.id))?.disabled, false);
    assert.equal((await post(adminJar, `/users/${person.id}/unblock`)).status, 303);

    const rows = (await auditRows(['user.disabled', 'user.enabled', 'login.unblocked'], from)).filter((row) => row.accountId === person.id);
    assert.deepEqual(rows.map((row) => row.type), ['user.disabled', 'user.enabled', 'login.unblocked']);
    ok(rows.every((row) => row.actor === admin.id));
    assert.equal((await view(adminJar, `/users/${randomUUID()}`)).status, 404);
  });

  test('reset factors and sign out everywhere: the authenticator goes, every session and grant ends', async () => {
    const person = await newPerson();
    await enrolAuthenticator(server, { id: person.id, email: person.email });
    assert.equal(await server.services.secondFactors.state(person.id), 'confirmed');
    const from = await lastEventId();
    const unconfirmed = await post(adminJar, `/users/${person.id}/reset-factors`);
    assert.equal(unconfirmed.status, 400, 'irreversible: only with the box ticked');
    assert.match(alertOf(unconfirmed.html, 'standing-error') ?? '', /Tick the box/);
    assert.equal(await server.services.secondFactors.state(person.id), 'confirmed', 'nothing was removed');
    assert.equal((await post(adminJar, `/users/${person.id}/reset-factors`, { confirm: 'yes' })).status, 303);
    assert.equal(await server.services.secondFactors.state(person.id), 'none');
    const reset = (await auditRows(['mfa.reset'], from)).filter((row) => row.accountId === person.id);
    assert.equal(reset.length, 1);
    assert.equal(reset[0]!.actor, admin.id);

    const other = await newPerson();
    const { jar } = await signInToAccountPage(server.issuer, other.email, other.password);
    const signedOut = await post(adminJar, `/users/${other.id}/sign-out`);
    assert.equal(signedOut.status, 303);
    assert.equal(await signedOutOfAccountPage(server.issuer, jar), true);
    assert.deepEqual(await server.services.grants.listForAccount(other.id), []);
    assert.equal((await server.services.accounts.findById(other.id))?.disabled, false, 'the account stays enabled');
    const rows = (await auditRows(['user.tokens_revoked'], from)).filter((row) => row.accountId === other.id);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.actor, admin.id);
  });

  test('revoke one grant and end one session; another person’s grant or session, posted on this person’s page, ends nothing', async () => {
    const [person, other] = [await newPerson(), await newPerson()];
    const laptop = (await signInToAccountPage(server.issuer, person.email, person.password)).jar;
    const phone = (await signInToAccountPage(server.issuer, person.email, person.password)).jar;
    const othersBrowser = (await signInToAccountPage(server.issuer, other.email, other.password)).jar;
    const [othersGrant] = await server.services.grants.listForAccount(other.id);
    const [othersSession] = await server.services.grants.listSessions(other.id);
    ok(othersGrant && othersSession);
    const page = await view(adminJar, `/users/${person.id}`);
    const sessions = await server.services.grants.listSessions(person.id);
    const grants = await server.services.grants.listForAccount(person.id);
    assert.equal(sessions.length, 2);
    assert.equal(grants.length, 2);
    for (const item of [...sessions, ...grants]) ok(page.html.includes(`value="${item.id}"`), 'each is listed with its form');

    // The other person's, under this person's path: nothing of theirs ends.
    assert.equal((await post(adminJar, `/users/${person.id}/grants/revoke`, { grant: othersGrant.id })).status, 303);
    assert.equal((await post(adminJar, `/users/${person.id}/sessions/end`, { session: othersSession.id })).status, 303);
    // Nonsense ids too.
    assert.equal((await post(adminJar, `/users/${person.id}/grants/revoke`, { grant: '../../x' })).status, 303);
    assert.equal((await post(adminJar, `/users/${person.id}/sessions/end`, { session: 'x'.repeat(300) })).status, 303);
    ok(await server.services.grants.find(othersGrant.id), 'the other person’s grant stands');
    assert.equal((await server.services.grants.listSessions(other.id)).length, 1, 'the other person’s session stands');
    assert.equal(await signedOutOfAccountPage(server.issuer, othersBrowser), false);
    assert.equal((await server.services.grants.listForAccount(person.id)).length, 2);

    // One grant of the person's: that one ends, the other stays.
    const laptopGrant = sessions.find((session) => session.clients.some((client) => client.grantId))!;
    const grantToRevoke = grants.find((grant) => !laptopGrant.clients.some((client) => client.grantId === grant.id)) ?? grants[0]!;
    const from = await lastEventId();
    assert.equal((await post(adminJar, `/users/${person.id}/grants/revoke`, { grant: grantToRevoke.id })).status, 303);
    assert.equal(await server.services.grants.find(grantToRevoke.id), undefined);
    assert.equal((await server.services.grants.listForAccount(person.id)).length, 1);
    const revoked = await auditRows(['grant.revoked'], from);
    assert.equal(revoked.length, 1);
    assert.equal(revoked[0]!.actor, admin.id);
    assert.equal(revoked[0]!.data?.reason, 'operator');

    // One session: it ends with the grant made in it; the other browser stays signed in.
    const remaining = (await server.services.grants.listSessions(person.id)).find((session) => session.clients.some((client) => client.grantId && client.grantId !== grantToRevoke.id))!;
    ok(remaining, 'the session holding the remaining grant');
    assert.equal((await post(adminJar, `/users/${person.id}/sessions/end`, { session: remaining.id })).status, 303);
    const left = await server.services.grants.listSessions(person.id);
    assert.equal(left.length, 1);
    assert.notEqual(left[0]!.id, remaining.id);
    assert.deepEqual(await server.services.grants.listForAccount(person.id), []);
    assert.equal(await signedOutOfAccountPage(server.issuer, laptop), true);
    assert.equal(await signedOutOfAccountPage(server.issuer, phone), true);
    const ended = (await auditRows(['session.ended'], from)).filter((row) => row.accountId === person.id);
    assert.equal(ended.length, 1);
    assert.equal(ended[0]!.actor, admin.id);
    assert.equal((await auditRows(['session.ended', 'grant.revoked'], from)).filter((row) => row.accountId === other.id).length, 0);
  });
});

describe('audit trail', () => {
  test('filters: a type family, a client, a bad time is a 400 page with the message', async () => {
    const { client } = await server.services.clients.create({ type: 'service', name: 'Audited', resources: [API], scopes: [API_SCOPE] });
    await server.auditWriter.flush();
    const family = await view(adminJar, '/audit?type=client.*');
    assert.equal(family.status, 200);
    const types = [...family.html.matchAll(/<tr data-id="\d+"><td>[^<]*<\/td><td><code>([^<]+)<\/code>/g)].map((match) => match[1]);
    ok(types.length > 0, 'client events are listed');
    ok(types.every((type) => type!.startsWith('client.')), types.join(' '));
    const byClient = await view(adminJar, `/audit?clientId=${client.clientId}`);
    const rows = [...byClient.html.matchAll(/<tr data-id="\d+">(.*?)<\/tr>/g)].map((match) => match[1]!);
    ok(rows.length >= 1, 'the client’s events are listed');
    ok(rows.every((row) => row.includes(`<td>${client.clientId}</td>`)));

    const bad = await view(adminJar, '/audit?since=yesterday');
    assert.equal(bad.status, 400);
    assert.match(alertOf(bad.html, 'filter-error') ?? '', /since/);
    assert.match(bad.html, /value="yesterday"/, 'the filter is kept to correct');
    const badType = await view(adminJar, `/audit?type=${encodeURIComponent('<script>')}`);
    assert.equal(badType.status, 400);
    ok(!badType.html.includes('<script>'));
    assert.equal((await view(adminJar, '/audit?cursor=-1')).status, 400);
  });

  test('pages with a cursor: every event once, newest first', async () => {
    const type = testEventType('test.console_paging');
    for (let index = 0; index < 57; index++) server.auditWriter.record({ type, data: { index } });
    await server.auditWriter.flush();
    const seen: number[] = [];
    let path: string | undefined = `/audit?type=${type}`;
    let pages = 0;
    while (path) {
      const page = await view(adminJar, path);
      assert.equal(page.status, 200);
      seen.push(...[...page.html.matchAll(/<tr data-id="\d+">.*?index&quot;:(\d+)/g)].map((match) => Number(match[1])));
      path = /<a href="([^"]+)">Older events<\/a>/.exec(page.html)?.[1]?.replaceAll('&amp;', '&');
      if (path) path = path.replace(/^\/admin/, '');
      pages += 1;
      ok(pages < 5);
    }
    assert.equal(pages, 2);
    assert.deepEqual(seen, Array.from({ length: 57 }, (_, index) => 56 - index));
  });

  test('the live tail gives only newer events, as JSON, with the page’s filters; a bad `after` is a 400', async () => {
    const last = await lastEventId();
    const type = testEventType('test.console_tail');
    server.auditWriter.record({ type, data: { n: 1 } });
    server.auditWriter.record({ type: testEventType('test.console_other'), data: { n: 2 } });
    await server.auditWriter.flush();
    const answer = await send(adminJar, consoleUrl(server.issuer, `/audit/tail?after=${last}&type=test.console_tail`));
    assert.equal(answer.status, 200);
    assert.match(answer.headers.get('content-type') ?? '', /application\/json/);
    assert.equal(answer.headers.get('cache-control'), 'no-store');
    const { events } = (await answer.json()) as { events: { id: string; type: string }[] };
    assert.deepEqual(events.map((event) => event.type), ['test.console_tail']);
    ok(BigInt(events[0]!.id) > last);
    const newest = await send(adminJar, consoleUrl(server.issuer, `/audit/tail?after=${events[0]!.id}&type=test.console_tail`));
    assert.deepEqual(((await newest.json()) as { events: unknown[] }).events, [], 'nothing after the newest');
    for (const bad of ['', 'abc', '-1', '99999999999999999999', '9223372036854775808']) {
      const refused = await send(adminJar, consoleUrl(server.issuer, `/audit/tail?after=${bad}`));
      assert.equal(refused.status, 400, bad);
      assert.equal(((await refused.json()) as { error: string }).error, 'invalid_request');
    }
    const badFilter = await send(adminJar, consoleUrl(server.issuer, `/audit/tail?after=0&since=never`));
    assert.equal(badFilter.status, 400);
    await badFilter.body?.cancel();
    // The page hands the tail its start (the newest event shown) and loads it as a file, never inline.
    const page = await view(adminJar, '/audit');
    assert.match(page.html, /id="tail-toggle"[^>]*data-after="\d+"/);
    assert.match(page.html, /<script[^>]+src="\/assets\/admin-tail\.js/);
    assert.doesNotMatch(page.html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
  });
});

describe('keys', () => {
  test('list; rotate announces new keys (then 409 while announced); an unknown algorithm is 400; audited with the actor', async () => {
    const page = await view(adminJar, '/keys');
    assert.equal(page.status, 200);
    // The keys table (not the rotate form's checkboxes): a signing ES256 key.
    assert.match(page.html, /<td>sig<\/td><td>ES256<\/td><td>signing<\/td>/);
    const before = await server.services.auditTrail.lastId();
    const unknown = await post(adminJar, '/keys/rotate', { algs: 'HS256' });
    assert.equal(unknown.status, 400);
    assert.match(alertOf(unknown.html, 'rotate-error') ?? '', /^algs\.0: /, 'the admin API schema names the field');
    const script = await post(adminJar, '/keys/rotate', { algs: '<img src=x>' });
    assert.equal(script.status, 400);
    ok(!script.html.includes('<img src=x>'));
    assert.deepEqual(await auditRows(['key.*'], before), [], 'nothing was made');

    const rotated = await post(adminJar, '/keys/rotate', { algs: 'ES256' });
    assert.equal(rotated.status, 303, rotated.html.slice(0, 300));
    assert.equal(rotated.location, '/admin/keys?done=rotated');
    const listed = await view(adminJar, '/keys?done=rotated');
    assert.match(listed.html, /New keys were announced/);
    assert.match(listed.html, /<td>ES256<\/td><td>announced<\/td>/);
    const again = await post(adminJar, '/keys/rotate', { algs: 'ES256' });
    assert.equal(again.status, 409);
    ok(alertOf(again.html, 'rotate-error'));
    const rows = await auditRows(['key.created'], before);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.actor, admin.id);
    assert.equal(rows[0]!.data?.alg, 'ES256');
  });
});

describe('overview', () => {
  test('counts what the services hold, and lists a refused sign-in to the console among the latest refusals', async () => {
    const outsider = await newPerson(['editor']);
    await signInToConsole(server.issuer, outsider);
    await server.auditWriter.flush();
    const page = await view(adminJar, '');
    assert.equal(page.status, 200);
    const counts: Record<string, string | undefined> = Object.fromEntries([...page.html.matchAll(/<span class="count">([^<]*)<\/span><a href="[^"]*">([^<]*)<\/a>/g)].map((match) => [match[2] ?? '', match[1]]));
    assert.deepEqual(counts, {
      Clients: String((await server.services.clients.list()).length),
      'Resource servers': String((await server.services.resources.list()).length),
      Users: String(await server.services.accounts.count()),
      // The keys page lists the same keys: those not retired.
      'Keys in use': String([...(await view(adminJar, '/keys')).html.matchAll(/<tr><td><code>/g)].length),
    });
    const attention = page.html.slice(page.html.indexOf('id="attention-heading"'), page.html.indexOf('id="recent-heading"'));
    assert.match(attention, new RegExp(`<code>admin\\.refused</code></td><td>${outsider.id}</td>`));
  });
});

describe('every page', () => {
  test('answers with the CSP without inline scripts, no framing, no storing; the navigation marks where it is', async () => {
    const person = await newPerson();
    const paths = ['', '/clients', '/clients/portcullis-admin', '/resources', `/resources/${encodeURIComponent(adminResource)}`, '/users', `/users/${person.id}`, '/audit', '/keys', '/keys?all=true'];
    for (const path of paths) {
      const page = await view(adminJar, path);
      assert.equal(page.status, 200, path);
      assertPageHeaders(page.headers, path);
      assert.match(page.html, /aria-current="page"/, path);
      ok(page.html.includes(`signed in as <strong>${admin.email}</strong>`), path);
    }
    // Error pages of the console too.
    for (const path of ['/clients/no-such-client', `/users/${randomUUID()}`, '/audit?since=x']) {
      const page = await view(adminJar, path);
      ok(page.status >= 400, path);
      assertPageHeaders(page.headers, path);
    }
  });
});

describe('signing out', () => {
  test('ends the console grant and goes to the engine’s end-session page; the old cookie and token are worth nothing after', async () => {
    const person = await newPerson(['admin']);
    const { jar } = await signInToConsole(server.issuer, person);
    const stolen = jar.copy();
    const token = await csrfOf(jar);
    const [grant] = (await server.services.grants.listForAccount(person.id)).filter((item) => item.clientId === 'portcullis-admin');
    ok(grant);
    const from = await lastEventId();
    const out = await post(jar, '/sign-out', {}, token);
    assert.equal(out.status, 303);
    assert.equal(out.location, `${endSession}?client_id=portcullis-admin`);
    assert.equal(await server.services.grants.find(grant.id), undefined, 'the console grant ended');
    assert.equal(jar.get('portcullis.admin'), undefined, 'the cookie is cleared');
    const rows = (await auditRows(['grant.revoked'], from)).filter((row) => row.accountId === person.id);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.data?.reason, 'logout');
    assert.equal(rows[0]!.actor, person.id);

    // A copy of the cookie taken before is signed, but names an ended grant.
    const page = await view(stolen, '/users');
    assert.equal(page.status, 302);
    assert.match(page.location ?? '', /\/auth\?/);
    const target = await newPerson();
    const replay = await post(stolen, `/users/${target.id}/disable`, {}, token);
    assert.equal(replay.status, 303);
    assert.equal(replay.location, '/admin');
    assert.equal((await server.services.accounts.findById(target.id))?.disabled, false);
  });
});
