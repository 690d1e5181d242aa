import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import * as oidc from 'openid-client';

import { authorizationRequest, CookieJar, openPage, runBrowser } from '../helpers/browserless-login.ts';
import { startTestServer, type TestDeclaration, type TestServer } from '../helpers/test-server.ts';

// Dynamic client registration (RFC 7591) and its management (RFC 7592), README "Dynamic
// client registration": off by default; with initial access tokens minted by the operator;
// open within a policy. A registered client is a client like any other: validated by the
// same rules, marked as registered, and refused in the RFCs' terms.

const REDIRECT = 'http://localhost:8080/callback';
const PASSWORD = 'a long and correct password';
const API = 'https://api.example.com';
const insecure = { execute: [oidc.allowInsecureRequests] };

const declaration: TestDeclaration = {
  resources: [{ indicator: API, name: 'API', scopes: [{ name: 'read', description: 'Read' }] }],
  users: [{ email: 'dcr@example.com', name: 'Registered', password: PASSWORD }],
};

type Json = Record<string, unknown>;

async function register(server: TestServer, body: unknown, token?: string, init: { contentType?: string; raw?: string } = {}): Promise<{ status: number; body: Json; headers: Headers }> {
  const response = await fetch(`${server.issuer}/reg`, {
    method: 'POST',
    headers: { 'content-type': init.contentType ?? 'application/json', ...(token !== undefined && { authorization: `Bearer ${token}` }) },
    body: init.raw ?? JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Json) : {}, headers: response.headers };
}

async function manage(method: 'GET' | 'PUT' | 'DELETE', uri: string, token: string, body?: unknown): Promise<{ status: number; body: Json }> {
  const response = await fetch(uri, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Json) : {} };
}

async function discovery(server: TestServer): Promise<Json> {
  return (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as Json;
}

async function mint(server: TestServer, uses = 1, expiresInSeconds = 3600): Promise<string> {
  return (await server.services.registrationTokens.mint({ uses, expiresInSeconds })).token;
}

const webApp = { client_name: 'Registered App', redirect_uris: [REDIRECT], grant_types: ['authorization_code', 'refresh_token'], scope: 'openid email offline_access' };

describe('CLIENT_REGISTRATION unset: no registration at all', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ LOG_LEVEL: 'warn' }, { declare: declaration });
  });
  after(async () => {
    await server?.close();
  });

  test('discovery names no registration endpoint, and /reg is not there', async () => {
    assert.equal((await discovery(server)).registration_endpoint, undefined);
    const before = (await server.services.clients.list()).length;
    // Our request limits refuse a JSON body where no route takes one (415); a form body finds no route.
    assert.equal((await register(server, webApp)).status, 415);
    assert.equal((await register(server, {}, undefined, { contentType: 'application/x-www-form-urlencoded', raw: 'client_name=x' })).status, 404);
    assert.equal((await fetch(`${server.issuer}/reg/some-client`)).status, 404);
    assert.equal((await server.services.clients.list()).length, before);
  });
});

describe('CLIENT_REGISTRATION=initial-access-token', () => {
  let server: TestServer;
  before(async () => {
    // The per-address budget has its own test (RATE_LIMIT_REGISTRATION); here every request counts against one address.
    // Every log line is kept (debug): no secret may reach any of them.
    server = await startTestServer({ LOG_LEVEL: 'debug', CLIENT_REGISTRATION: 'initial-access-token', RATE_LIMIT_REGISTRATION: '1000/1h' }, { declare: declaration });
  });
  after(async () => {
    await server?.close();
  });

  test('discovery names the registration endpoint', async () => {
    assert.equal((await discovery(server)).registration_endpoint, `${server.issuer}/reg`);
  });

  test('a client registered with a minted token signs a person in with the authorization code and PKCE, through openid-client', async () => {
    const token = await mint(server);
    const issuer = new URL(server.issuer);
    const registered = await oidc.dynamicClientRegistration(issuer, { ...webApp, token_endpoint_auth_method: 'client_secret_basic' }, undefined, { ...insecure, initialAccessToken: token });
    const metadata = registered.clientMetadata();
    assert.equal(typeof metadata.client_secret, 'string');
    const stored = await server.services.clients.get(metadata.client_id);
    assert.equal(stored.origin, 'registration');
    assert.equal(stored.type, 'web');
    assert.equal(stored.firstParty, false);

    const request = authorizationRequest(server.issuer, { client_id: metadata.client_id, redirect_uri: REDIRECT, scope: 'openid email' });
    const result = await runBrowser(request.url, { email: 'dcr@example.com', password: PASSWORD });
    assert.ok(result.pages.includes('consent'), 'a registered client is a third party: consent is asked');
    const tokens = await oidc.authorizationCodeGrant(registered, result.url, { pkceCodeVerifier: request.verifier, expectedState: request.state });
    assert.equal(tokens.claims()?.sub, server.declared.accountId('dcr@example.com'));
    assert.equal(tokens.claims()?.aud, metadata.client_id);
  });

  test('a token registers as many clients as it has uses, then is refused as invalid_token (401)', async () => {
    const token = await mint(server, 2);
    assert.equal((await register(server, webApp, token)).status, 201);
    assert.equal((await register(server, webApp, token)).status, 201);
    const spent = await register(server, webApp, token);
    assert.equal(spent.status, 401);
    assert.equal(spent.body.error, 'invalid_token');
    assert.match(spent.headers.get('www-authenticate') ?? '', /^Bearer .*error="invalid_token"/);
  });

  test('an expired, a revoked, an unknown, a malformed and a missing token register nothing', async () => {
    const before = (await server.services.clients.list()).length;
    const expired = await server.services.registrationTokens.mint({ uses: 5, expiresInSeconds: 3600 });
    await server.database.prisma.registrationToken.update({ where: { id: expired.record.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const revoked = await server.services.registrationTokens.mint({ uses: 5, expiresInSeconds: 3600 });
    await server.services.registrationTokens.revoke(revoked.record.id);
    for (const token of [expired.token, revoked.token, 'A'.repeat(43), 'not-a-token', `${expired.token}x`, 'x'.repeat(4000)]) {
      const answer = await register(server, webApp, token);
      assert.equal(answer.status, 401, token);
      assert.equal(answer.body.error, 'invalid_token');
    }
    // Not a bearer token at all (RFC 6750 2.1 syntax): the request is malformed.
    const garbage = await register(server, webApp, 'not a token');
    assert.equal(garbage.status, 400);
    assert.equal(garbage.body.error, 'invalid_request');
    const missing = await register(server, webApp);
    assert.ok(missing.status === 400 || missing.status === 401, `missing token: ${missing.status}`);
    assert.equal((await server.services.clients.list()).length, before);
  });

  test('a refused document is the RFC 7591 error (400), writes nothing and spends no use of the token', async () => {
    const token = await mint(server, 1);
    const before = (await server.services.clients.list()).length;
    const refusals: [unknown, string][] = [
      [{ ...webApp, redirect_uris: ['http://app.example.com/callback'] }, 'invalid_redirect_uri'],
      [{ ...webApp, redirect_uris: ['https://app.example.com/cb#fragment'] }, 'invalid_redirect_uri'],
      [{ ...webApp, redirect_uris: [] }, 'invalid_redirect_uri'],
      [{ ...webApp, client_name: 'adm\u202Enimda' }, 'invalid_client_metadata'],
      [{ ...webApp, scope: 'openid unknown-scope' }, 'invalid_client_metadata'],
      [{ ...webApp, grant_types: ['client_credentials'], response_types: [] }, 'invalid_client_metadata'],
      [{ ...webApp, token_endpoint_auth_method: 'private_key_jwt' }, 'invalid_client_metadata'],
      [{ ...webApp, portcullis_first_party: true }, 'invalid_client_metadata'],
      [{ ...webApp, portcullis_resource_scopes: ['read'] }, 'invalid_client_metadata'],
      [{ ...webApp, sector_identifier_uri: 'https://169.254.169.254/latest' }, 'invalid_client_metadata'],
      [{ ...webApp, jwks_uri: 'https://127.0.0.1/keys' }, 'invalid_client_metadata'],
      [{ ...webApp, backchannel_logout_uri: 'https://internal.example/logout' }, 'invalid_client_metadata'],
      [{ ...webApp, redirect_uris: 'https://app.example.com/cb' }, 'invalid_redirect_uri'],
      [{ ...webApp, grant_types: 'authorization_code' }, 'invalid_client_metadata'],
    ];
    for (const [body, error] of refusals) {
      const answer = await register(server, body, token);
      assert.equal(answer.status, 400, JSON.stringify(body));
      assert.equal(answer.body.error, error, `${JSON.stringify(body)}: ${String(answer.body.error_description)}`);
    }
    for (const raw of ['{not json', '[]', '"a string"', 'null']) {
      const answer = await register(server, undefined, token, { raw });
      assert.equal(answer.status, 400, raw);
      assert.equal(answer.body.error, 'invalid_request', raw);
    }
    const form = await register(server, undefined, token, { contentType: 'application/x-www-form-urlencoded', raw: 'client_name=x&redirect_uris=https://a.example/cb' });
    assert.equal(form.status, 415);
    const huge = await register(server, { ...webApp, client_name: 'x'.repeat(200 * 1024) }, token);
    assert.equal(huge.status, 413);
    assert.equal((await server.services.clients.list()).length, before);
    assert.equal((await register(server, webApp, token)).status, 201, 'the token still had its one use');
  });

  test('a public client (none) is registered as a browser app and must use PKCE like any public client', async () => {
    const answer = await register(server, { client_name: 'SPA', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], scope: 'openid' }, await mint(server));
    assert.equal(answer.status, 201);
    assert.equal(answer.body.client_secret, undefined);
    const clientId = answer.body.client_id as string;
    assert.equal((await server.services.clients.get(clientId)).type, 'spa');
    const url = new URL('/auth', server.issuer);
    url.search = new URLSearchParams({ client_id: clientId, redirect_uri: REDIRECT, response_type: 'code', scope: 'openid', state: 'xyz' }).toString();
    const response = await fetch(url, { redirect: 'manual' });
    const location = new URL(response.headers.get('location') ?? '/', server.issuer);
    assert.equal(location.origin + location.pathname, REDIRECT);
    assert.equal(location.searchParams.get('error'), 'invalid_request');
    assert.match(location.searchParams.get('error_description') ?? '', /PKCE/);
  });

  test('RFC 7592: the registration access token reads, replaces (rotated) and deletes its own client only', async () => {
    const first = await register(server, webApp, await mint(server));
    const second = await register(server, { ...webApp, client_name: 'Other' }, await mint(server));
    assert.equal(first.status, 201);
    const uri = first.body.registration_client_uri as string;
    const token = first.body.registration_access_token as string;
    assert.equal(uri, `${server.issuer}/reg/${String(first.body.client_id)}`);

    const read = await manage('GET', uri, token);
    assert.equal(read.status, 200);
    assert.equal(read.body.client_id, first.body.client_id);
    assert.equal(read.body.scope, 'openid email offline_access');
    assert.ok(!Object.keys(read.body).some((key) => key.startsWith('portcullis_')), 'none of our own fields');

    // Another client's token gets nothing of this one (and the engine ends that token).
    const stranger = await manage('GET', uri, second.body.registration_access_token as string);
    assert.equal(stranger.status, 401);
    assert.equal(stranger.body.error, 'invalid_token');
    assert.equal((await manage('DELETE', uri, second.body.registration_access_token as string)).status, 401);
    assert.ok(await server.services.clients.find(first.body.client_id as string), 'still there');

    // A replacement is validated again: refused, nothing changes and the token still works.
    const refused = await manage('PUT', uri, token, { ...webApp, client_id: first.body.client_id, redirect_uris: ['http://evil.example/cb'] });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error, 'invalid_redirect_uri');
    const sneaky = await manage('PUT', uri, token, { ...webApp, client_id: first.body.client_id, portcullis_first_party: true });
    assert.equal(sneaky.status, 400);
    assert.equal((await server.services.clients.get(first.body.client_id as string)).firstParty, false);

    const updated = await manage('PUT', uri, token, { ...webApp, client_id: first.body.client_id, client_name: 'Renamed', redirect_uris: [REDIRECT, 'https://app.example.com/cb'] });
    assert.equal(updated.status, 200, JSON.stringify(updated.body));
    assert.equal(updated.body.client_name, 'Renamed');
    assert.equal(updated.body.client_secret, first.body.client_secret, 'the secret stays');
    const rotated = updated.body.registration_access_token as string;
    assert.notEqual(rotated, token);
    assert.deepEqual((await server.services.clients.get(first.body.client_id as string)).redirectUris, [REDIRECT, 'https://app.example.com/cb']);
    const replayed = await manage('GET', uri, token);
    assert.equal(replayed.status, 401, 'the token before the rotation works no more');
    assert.equal((await manage('GET', uri, rotated)).status, 200);

    const deleted = await manage('DELETE', uri, rotated);
    assert.equal(deleted.status, 204);
    assert.equal(await server.services.clients.find(first.body.client_id as string), undefined);
    assert.equal((await manage('GET', uri, rotated)).status, 401);
    const count = await server.database.prisma.oidcRegistrationAccessToken.count({ where: { clientId: first.body.client_id as string } });
    assert.equal(count, 0);
  });

  test('a registrant’s PUT keeps what only the operator sets: a second factor required, pushed requests, stay', async () => {
    const first = await register(server, webApp, await mint(server));
    assert.equal(first.status, 201);
    const clientId = first.body.client_id as string;
    await server.services.clients.update(clientId, { requireMfa: true, requirePushedRequests: true });
    const replaced = await manage('PUT', first.body.registration_client_uri as string, first.body.registration_access_token as string, { ...webApp, client_id: clientId, client_name: 'Renamed again' });
    assert.equal(replaced.status, 200, JSON.stringify(replaced.body));
    const stored = await server.services.clients.get(clientId);
    assert.equal(stored.name, 'Renamed again');
    assert.equal(stored.requireMfa, true, 'the operator’s second factor stays');
    assert.equal(stored.requirePushedRequests, true, 'the operator’s pushed requests stay');
  });

  test('a redirect URI with a user name before the host (https://good@evil) is refused', async () => {
    const refused = await register(server, { ...webApp, redirect_uris: ['https://app.example.com@evil.example/cb'] }, await mint(server));
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error, 'invalid_redirect_uri');
  });

  test('the consent page says a registered client registered itself, names where it sends people back, and shows no logo of its choosing', async () => {
    const answer = await register(server, { ...webApp, client_name: 'Your account', logo_uri: 'https://tracker.example/pixel.png' }, await mint(server));
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    const request = authorizationRequest(server.issuer, { client_id: answer.body.client_id as string, redirect_uri: REDIRECT, scope: 'openid email' });
    const jar = new CookieJar();
    let consent = '';
    await runBrowser(request.url, { jar, email: 'dcr@example.com', password: PASSWORD, consent: 'deny', onPage: (html) => (consent = html) });
    assert.match(consent, /This app registered itself: its name is its own claim, not verified by this server\. It sends you back to localhost:8080\./);
    assert.doesNotMatch(consent, /tracker\.example/, 'no logo of its choosing');
    // An operator's client is introduced as before.
    const made = await server.services.clients.create({ type: 'web', name: 'Operator App', redirectUris: [REDIRECT], scopes: ['openid', 'email'] });
    const page = await openPage(new CookieJar(), authorizationRequest(server.issuer, { client_id: made.client.clientId, redirect_uri: REDIRECT }).url);
    assert.match(page.html, /Operator App/);
    assert.doesNotMatch(page.html, /registered itself/);
  });

  test('the audit trail records registrations, updates and deletions, and no secret reaches it or the logs', async () => {
    const minted = await server.services.registrationTokens.mint({ uses: 1, expiresInSeconds: 600 });
    const answer = await register(server, webApp, minted.token);
    const uri = answer.body.registration_client_uri as string;
    const updated = await manage('PUT', uri, answer.body.registration_access_token as string, { ...webApp, client_id: answer.body.client_id, client_name: 'Audited' });
    assert.equal((await manage('DELETE', uri, updated.body.registration_access_token as string)).status, 204);
    await server.auditWriter.flush();
    const events = await server.database.prisma.auditEvent.findMany({ where: { clientId: answer.body.client_id as string }, orderBy: { id: 'asc' } });
    assert.deepEqual(
      events.map((event) => event.type),
      ['client.registered', 'client.registration_updated', 'client.registration_deleted'],
    );
    assert.equal((events[0]?.data as { registrationTokenId?: string }).registrationTokenId, minted.record.id);
    assert.equal(events[0]?.actor, `client:${String(answer.body.client_id)}`);
    assert.match(server.logs(), /\/reg/, 'the registration requests were logged');
    const everything = JSON.stringify(await server.database.prisma.auditEvent.findMany(), (_key, value: unknown) => (typeof value === 'bigint' ? String(value) : value)) + server.logs();
    for (const secret of [minted.token, answer.body.client_secret, answer.body.registration_access_token, updated.body.registration_access_token]) {
      assert.equal(typeof secret, 'string');
      assert.equal(everything.includes(secret as string), false, 'a secret in the audit trail or the logs');
    }
    const stored = JSON.stringify(await server.database.prisma.registrationToken.findMany()) + JSON.stringify(await server.database.prisma.oidcRegistrationAccessToken.findMany());
    assert.equal(stored.includes(minted.token), false, 'an initial access token is stored as its hash only');
  });
});

describe('CLIENT_REGISTRATION=open, within a policy', () => {
  const OTHER_API = 'https://other.example.com';
  let server: TestServer;
  before(async () => {
    server = await startTestServer(
      {
        LOG_LEVEL: 'warn',
        CLIENT_REGISTRATION: 'open',
        CLIENT_REGISTRATION_GRANT_TYPES: 'authorization_code,client_credentials',
        CLIENT_REGISTRATION_REDIRECT_SCHEMES: 'https,com.example.app',
        CLIENT_REGISTRATION_REDIRECT_HOSTS: 'app.example.com,*.trusted.example',
        CLIENT_REGISTRATION_SCOPES: 'openid,email,read,write',
        CLIENT_REGISTRATION_RESOURCES: API,
        CLIENT_REGISTRATION_AUTH_METHODS: 'client_secret_basic,none',
        RATE_LIMIT_REGISTRATION: '1000/1h',
      },
      {
        declare: {
          ...declaration,
          resources: [...(declaration.resources ?? []), { indicator: OTHER_API, name: 'Other', scopes: [{ name: 'write', description: 'Write' }] }],
        },
      },
    );
  });
  after(async () => {
    await server?.close();
  });

  const base = { client_name: 'Open App', redirect_uris: ['https://app.example.com/cb'], grant_types: ['authorization_code'], scope: 'openid' };

  test('anyone may register within the policy: no token needed, and none is looked at', async () => {
    const answer = await register(server, base);
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    const stored = await server.services.clients.get(answer.body.client_id as string);
    assert.equal(stored.origin, 'registration');
    assert.equal(stored.registrationTokenId, null);
    assert.equal((await register(server, { ...base, redirect_uris: ['https://a.trusted.example/cb', 'http://127.0.0.1:9000/cb', 'http://localhost/cb'] })).status, 201);
    assert.equal((await register(server, { ...base, application_type: 'native', token_endpoint_auth_method: 'none', redirect_uris: ['com.example.app:/callback'] })).status, 201);
  });

  test('each policy field refuses what it does not allow, in the RFC 7591 terms', async () => {
    const before = (await server.services.clients.list()).length;
    const refusals: [string, unknown, string, RegExp][] = [
      ['grant types', { ...base, grant_types: ['authorization_code', 'refresh_token'] }, 'invalid_client_metadata', /refresh_token is not allowed/],
      ['redirect scheme', { ...base, application_type: 'native', token_endpoint_auth_method: 'none', redirect_uris: ['com.evil.app:/callback'] }, 'invalid_redirect_uri', /scheme is not allowed/],
      ['redirect host', { ...base, redirect_uris: ['https://evil.example/cb'] }, 'invalid_redirect_uri', /host evil\.example is not allowed/],
      ['redirect host (suffix)', { ...base, redirect_uris: ['https://eviltrusted.example/cb'] }, 'invalid_redirect_uri', /not allowed/],
      ['http off loopback', { ...base, redirect_uris: ['http://app.example.com/cb'] }, 'invalid_redirect_uri', /http is allowed only for loopback/],
      ['post-logout host', { ...base, post_logout_redirect_uris: ['https://evil.example/bye'] }, 'invalid_client_metadata', /post_logout_redirect_uris/],
      ['scopes', { ...base, scope: 'openid profile' }, 'invalid_client_metadata', /profile is not allowed/],
      ['resources', { ...base, scope: 'openid write' }, 'invalid_client_metadata', /write/],
      ['auth methods', { ...base, token_endpoint_auth_method: 'client_secret_post' }, 'invalid_client_metadata', /client_secret_post is not allowed/],
    ];
    for (const [field, body, error, description] of refusals) {
      const answer = await register(server, body);
      assert.equal(answer.status, 400, field);
      assert.equal(answer.body.error, error, `${field}: ${String(answer.body.error_description)}`);
      assert.match(String(answer.body.error_description), description, field);
    }
    assert.equal((await server.services.clients.list()).length, before);
  });

  test('a service registered for client_credentials and an allowed resource gets tokens for it, through openid-client', async () => {
    const answer = await register(server, { client_name: 'Batch', grant_types: ['client_credentials'], scope: 'read' });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    assert.deepEqual(answer.body.response_types, []);
    const stored = await server.services.clients.get(answer.body.client_id as string);
    assert.equal(stored.type, 'service');
    assert.deepEqual(stored.resources, [API]);
    const client = await oidc.discovery(new URL(server.issuer), answer.body.client_id as string, undefined, oidc.ClientSecretBasic(answer.body.client_secret as string), insecure);
    const tokens = await oidc.clientCredentialsGrant(client, { scope: 'read', resource: API });
    assert.equal(tokens.token_type.toLowerCase(), 'bearer');
    assert.equal(tokens.scope, 'read');
  });

  test('a client that registered itself can be deleted by the operator, and its management token then finds nothing', async () => {
    const answer = await register(server, base);
    await server.services.clients.delete(answer.body.client_id as string);
    assert.equal((await manage('GET', answer.body.registration_client_uri as string, answer.body.registration_access_token as string)).status, 401);
  });
});

describe('RATE_LIMIT_REGISTRATION: a budget per address on the registration endpoint', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ LOG_LEVEL: 'warn', CLIENT_REGISTRATION: 'open', RATE_LIMIT_REGISTRATION: '3/1h' }, { declare: declaration });
  });
  after(async () => {
    await server?.close();
  });

  test('past the budget the address is refused with 429 and Retry-After, before anything is written; tokens and bad documents count too', async () => {
    const first = await register(server, webApp);
    assert.equal(first.status, 201);
    assert.equal((await register(server, { ...webApp, redirect_uris: ['http://evil.example/cb'] })).status, 400);
    assert.equal((await register(server, webApp, 'A'.repeat(43))).status, 201, 'open registration ignores a token');
    const before = (await server.services.clients.list()).length;
    const refused = await register(server, webApp);
    assert.equal(refused.status, 429);
    assert.ok(Number(refused.headers.get('retry-after')) > 0);
    assert.equal((await server.services.clients.list()).length, before);
    // Managing a registration (RFC 7592) spends the same budget: each write empties every instance's registry cache.
    const managed = await manage('PUT', first.body.registration_client_uri as string, first.body.registration_access_token as string, { ...webApp, client_id: first.body.client_id, client_name: 'Again' });
    assert.equal(managed.status, 429);
    assert.equal((await server.services.clients.get(first.body.client_id as string)).name, webApp.client_name);
    // Other endpoints keep their own budgets.
    assert.equal((await fetch(`${server.issuer}/.well-known/openid-configuration`)).status, 200);
  });
});

describe('a single-use token presented by many registrations at once', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ LOG_LEVEL: 'warn', CLIENT_REGISTRATION: 'initial-access-token', RATE_LIMIT_REGISTRATION: '1000/1h' }, { declare: declaration });
  });
  after(async () => {
    await server?.close();
  });

  test('registers exactly one client; every other is invalid_token', async () => {
    const before = (await server.services.clients.list()).length;
    const token = await mint(server, 1);
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => register(server, { ...webApp, client_name: `Burst ${i}` }, token)));
    const statuses = answers.map((answer) => answer.status).sort();
    assert.deepEqual(statuses, [201, ...Array.from({ length: 11 }, () => 401)]);
    assert.ok(answers.filter((answer) => answer.status === 401).every((answer) => answer.body.error === 'invalid_token'));
    assert.equal((await server.services.clients.list()).length, before + 1);
    const [row] = await server.services.registrationTokens.list();
    assert.equal(row?.usesLeft, 0);
  });
});
