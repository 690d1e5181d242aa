import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { authorizationRequest, runBrowser, send, CookieJar } from '../helpers/browserless-login.ts';
import { basicAuth, postAsClient } from '../helpers/token-endpoint.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// RFC 6749 §3.3 and §5.1: the server may grant less than asked, but must then say which
// scope it granted; it may not drop a scope silently. Many client libraries ask for
// `scope=read` with no RFC 8707 `resource` at all (client credentials, authorization
// code). Portcullis' rule: the resource-server scopes asked for name their resource when
// they all belong to exactly one of the client's registered resource servers (that is the
// default resource); a scope the client is not registered for is `invalid_scope`, scopes of
// several resource servers are `invalid_target`, each naming the scope. A request for
// OpenID Connect scopes only still gets an opaque token for userinfo.

const REDIRECT = 'https://app.example/callback';
const ORDERS = 'https://orders.example.com';
const REPORTS = 'https://reports.example.com';
const ARCHIVE = 'https://archive.example.com';
const PERSON = { email: 'pat@example.com', password: 'pat has a long password' };

let server: TestServer;
let single: { id: string; secret: string };
let several: { id: string; secret: string };
let web: { id: string; secret: string };

before(async () => {
  server = await startTestServer();
  const { accounts, resources, clients } = server.services;
  await accounts.create({ ...PERSON, name: 'Pat' });
  await resources.create({ indicator: ORDERS, name: 'Orders', scopes: [{ name: 'orders:read' }, { name: 'shared:read' }], accessTokenFormat: 'opaque' });
  await resources.create({ indicator: REPORTS, name: 'Reports', scopes: [{ name: 'reports:read' }], accessTokenFormat: 'jwt' });
  await resources.create({ indicator: ARCHIVE, name: 'Archive', scopes: [{ name: 'shared:read' }], accessTokenFormat: 'opaque' });
  const created = async (input: Record<string, unknown>) => {
    const result = await clients.create(input);
    return { id: result.client.clientId, secret: result.clientSecret! };
  };
  single = await created({ type: 'service', name: 'Single', resources: [ORDERS], scopes: ['orders:read'] });
  several = await created({ type: 'service', name: 'Several', resources: [ORDERS, REPORTS, ARCHIVE], scopes: ['orders:read', 'reports:read', 'shared:read'] });
  web = await created({ type: 'web', name: 'Web', redirectUris: [REDIRECT], resources: [ORDERS], scopes: ['openid', 'email', 'orders:read'] });
});

after(async () => {
  await server?.close();
});

async function clientCredentials(client: { id: string; secret: string }, fields: Record<string, string>) {
  const response = await postAsClient(`${server.issuer}/token`, basicAuth(client.id, client.secret), { grant_type: 'client_credentials', ...fields });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function introspect(client: { id: string; secret: string }, token: string) {
  const response = await postAsClient(`${server.issuer}/token/introspection`, basicAuth(client.id, client.secret), { token });
  return (await response.json()) as Record<string, unknown>;
}

describe('client credentials without a resource parameter', () => {
  test('scopes of exactly one registered resource server are granted for it, and the response says so', async () => {
    const { status, body } = await clientCredentials(single, { scope: 'orders:read' });
    assert.equal(status, 200);
    assert.equal(body.scope, 'orders:read');
    const facts = await introspect(single, body.access_token as string);
    assert.equal(facts.active, true);
    assert.equal(facts.scope, 'orders:read');
    assert.equal(facts.aud, ORDERS);
  });

  test('a client of several resource servers gets the one its scopes belong to', async () => {
    const { status, body } = await clientCredentials(several, { scope: 'reports:read' });
    assert.equal(status, 200);
    assert.equal(body.scope, 'reports:read');
    // Reports issues JWTs: the audience is in the token itself.
    const payload = JSON.parse(Buffer.from((body.access_token as string).split('.')[1]!, 'base64url').toString()) as { aud: string; scope: string };
    assert.equal(payload.aud, REPORTS);
    assert.equal(payload.scope, 'reports:read');
  });

  test('a scope the client is not registered for is invalid_scope, naming it', async () => {
    const { status, body } = await clientCredentials(single, { scope: 'orders:read admin' });
    assert.equal(status, 400);
    assert.equal(body.error, 'invalid_scope');
    assert.match(String(body.error_description), /\badmin\b/);
  });

  test('scopes of two resource servers, or a scope two of them offer, are invalid_target naming the scope', async () => {
    const split = await clientCredentials(several, { scope: 'orders:read reports:read' });
    assert.equal(split.status, 400);
    assert.equal(split.body.error, 'invalid_target');
    assert.match(String(split.body.error_description), /orders:read|reports:read/);
    const ambiguous = await clientCredentials(several, { scope: 'shared:read' });
    assert.equal(ambiguous.status, 400);
    assert.equal(ambiguous.body.error, 'invalid_target');
    assert.match(String(ambiguous.body.error_description), /shared:read/);
  });

  test('OpenID Connect scopes are about a person: a client-credentials token cannot carry them', async () => {
    for (const fields of <Record<string, string>[]>[{ scope: 'openid' }, { scope: 'openid orders:read' }, { scope: 'email orders:read', resource: ORDERS }]) {
      const { status, body } = await clientCredentials(single, fields);
      assert.equal(status, 400, JSON.stringify(fields));
      assert.equal(body.error, 'invalid_scope');
      assert.match(String(body.error_description), /openid|email/);
    }
  });

  test('with a resource, a scope that resource does not offer is refused rather than dropped', async () => {
    const { status, body } = await clientCredentials(several, { scope: 'reports:read', resource: ORDERS });
    assert.equal(status, 400);
    assert.equal(body.error, 'invalid_scope');
    assert.match(String(body.error_description), /reports:read/);
    const granted = await clientCredentials(several, { scope: 'orders:read', resource: ORDERS });
    assert.equal(granted.status, 200);
    assert.equal(granted.body.scope, 'orders:read');
  });
});

describe('the authorization endpoint without a resource parameter', () => {
  test('an unregistered scope goes back to the client as invalid_scope, naming it, with state and iss', async () => {
    const request = authorizationRequest(server.issuer, { client_id: web.id, redirect_uri: REDIRECT, scope: 'openid admin' });
    const response = await send(new CookieJar(), request.url);
    assert.equal(response.status, 303);
    const location = new URL(response.headers.get('location')!);
    assert.equal(`${location.origin}${location.pathname}`, REDIRECT);
    assert.equal(location.searchParams.get('error'), 'invalid_scope');
    assert.match(location.searchParams.get('error_description') ?? '', /\badmin\b/);
    assert.equal(location.searchParams.get('state'), request.state);
    assert.equal(location.searchParams.get('iss'), server.issuer);
    // Counted and logged as the error it is.
    const requestId = response.headers.get('x-request-id');
    const line = server
      .logs()
      .split('\n')
      .filter(Boolean)
      .map((text) => JSON.parse(text) as { requestId?: string; msg?: string; error?: string })
      .find((entry) => entry.msg === 'request' && entry.requestId === requestId);
    assert.equal(line?.error, 'invalid_scope');
    const counted = (await server.metrics.oauthErrors.get()).values.find((sample) => sample.labels.error === 'invalid_scope' && sample.labels.route === 'authorization');
    assert.ok(counted && counted.value >= 1);
  });

  test('with a redirect URI the client did not register, the error is a page, never a redirect', async () => {
    const request = authorizationRequest(server.issuer, { client_id: web.id, redirect_uri: 'https://evil.example/cb', scope: 'openid admin' });
    const response = await send(new CookieJar(), request.url);
    assert.equal(response.status, 400);
    assert.equal(response.headers.get('location'), null);
  });

  test('OpenID Connect scopes alone still give an opaque access token for userinfo', async () => {
    const tokens = await codeFlow('openid email');
    assert.equal(tokens.scope, 'openid email');
    assert.equal(String(tokens.access_token).split('.').length, 1, 'opaque');
    const userinfo = await fetch(`${server.issuer}/me`, { headers: { authorization: `Bearer ${tokens.access_token as string}` } });
    assert.equal(userinfo.status, 200);
    assert.equal(((await userinfo.json()) as { email: string }).email, PERSON.email);
  });

  test('a registered resource scope names its resource server: the token is for it, and says its scope', async () => {
    const tokens = await codeFlow('openid orders:read');
    assert.equal(tokens.scope, 'orders:read');
    const facts = await introspect(web, tokens.access_token as string);
    assert.equal(facts.aud, ORDERS);
    assert.equal(facts.scope, 'orders:read');
  });
});

async function codeFlow(scope: string): Promise<Record<string, unknown>> {
  const request = authorizationRequest(server.issuer, { client_id: web.id, redirect_uri: REDIRECT, scope });
  const browser = await runBrowser(request.url, { ...PERSON });
  const code = browser.url.searchParams.get('code');
  assert.ok(code, `a code, not ${browser.url.search}`);
  const response = await postAsClient(`${server.issuer}/token`, basicAuth(web.id, web.secret), {
    grant_type: 'authorization_code',
    code,
    redirect_uri: REDIRECT,
    code_verifier: request.verifier,
  });
  const body = (await response.json()) as Record<string, unknown>;
  assert.equal(response.status, 200, JSON.stringify(body));
  return body;
}
