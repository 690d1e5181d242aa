import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import * as oidc from 'openid-client';

import { runBrowser } from '../helpers/browserless-login.ts';
import { startTestServer, TEST_MASTER_SECRET, type TestServer } from '../helpers/test-server.ts';

// Every flow, run with distinctive secret values, at LOG_LEVEL=debug: none of the values
// may appear anywhere in what the server logged. And every request left exactly one
// access-log line, carrying its request id.

const REDIRECT = 'http://localhost:8080/callback';
const LOGOUT_REDIRECT = 'http://localhost:8080/signed-out';
const API = 'https://redaction-api.example.com';
const EMAIL = 'redaction@example.com';
const PASSWORD = 'Pw-zebra-DISTINCTIVE-6e1f';
const WRONG_PASSWORD = 'Wrong-kiwi-DISTINCTIVE-93ab';
const WRONG_SECRET = 'wrong-client-secret-DISTINCTIVE-77c2';
const insecure = { execute: [oidc.allowInsecureRequests] };

let server: TestServer;
/** Every value that must never be logged, with a name for the failure message. */
const secrets = new Map<string, string>();
/** The X-Request-Id of every response the issuer sent. */
const requestIds: string[] = [];
const realFetch = globalThis.fetch;

function secret(name: string, value: string | undefined | null): void {
  assert.ok(value, `${name} was obtained`);
  secrets.set(name, value);
}

function basic(id: string, value: string): string {
  const header = Buffer.from(`${id}:${value}`).toString('base64');
  secret(`Basic credentials of ${id}`, header);
  return `Basic ${header}`;
}

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

function logLines(): LogLine[] {
  return server
    .logs()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as LogLine);
}

before(async () => {
  server = await startTestServer({ LOG_LEVEL: 'debug', REFRESH_GRACE_SECONDS: '0' });
  globalThis.fetch = async (input, init) => {
    const response = await realFetch(input, init);
    const url = new URL(input instanceof Request ? input.url : String(input));
    const id = response.headers.get('x-request-id');
    if (url.origin === server.issuer && id) requestIds.push(id);
    return response;
  };
  secret('password', PASSWORD);
  secret('wrong password', WRONG_PASSWORD);
  secret('wrong client secret', WRONG_SECRET);
  secret('master secret', TEST_MASTER_SECRET);

  const { accounts, clients, resources } = server.services;
  await accounts.create({ email: EMAIL, name: 'Redacted Person', password: PASSWORD });
  await resources.create({ indicator: API, name: 'API', scopes: [{ name: 'read' }], accessTokenFormat: 'opaque' });
  const web = await clients.create({
    type: 'web',
    name: 'Web',
    redirectUris: [REDIRECT],
    postLogoutRedirectUris: [LOGOUT_REDIRECT],
    scopes: ['openid', 'email', 'offline_access', 'read'],
    resources: [API],
  });
  secret('web client secret', web.clientSecret);
  const service = await clients.create({ type: 'service', name: 'Batch', resources: [API], scopes: ['read'] });
  secret('service client secret', service.clientSecret);
  const introspector = await clients.create({ type: 'resource-server', name: 'API', resources: [API] });
  secret('resource server secret', introspector.clientSecret);
  const webId = web.client.clientId;
  const configuration = await oidc.discovery(new URL(server.issuer), webId, undefined, oidc.ClientSecretBasic(web.clientSecret), insecure);
  const post = (path: string, authorization: string | undefined, body: Record<string, string>) =>
    fetch(`${server.issuer}${path}`, {
      method: 'POST',
      headers: { ...(authorization && { authorization }), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(body),
    });

  // A wrong password, then a login with consent.
  const authorizationUrl = async (verifier: string) =>
    oidc.buildAuthorizationUrl(configuration, {
      redirect_uri: REDIRECT,
      scope: 'openid email offline_access',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      prompt: 'consent',
    });
  await runBrowser(await authorizationUrl(oidc.randomPKCECodeVerifier()), { email: EMAIL, password: WRONG_PASSWORD });
  const verifier = oidc.randomPKCECodeVerifier();
  secret('PKCE code verifier', verifier);
  const browser = await runBrowser(await authorizationUrl(verifier), { email: EMAIL, password: PASSWORD });
  const code = browser.url.searchParams.get('code');
  secret('authorization code', code);
  for (const name of ['_session', '_session.sig']) secret(`cookie ${name}`, browser.jar.get(name));
  const tokens = await oidc.authorizationCodeGrant(configuration, browser.url, { pkceCodeVerifier: verifier, expectedState: oidc.skipStateCheck });
  secret('access token', tokens.access_token);
  secret('refresh token', tokens.refresh_token);
  secret('ID token', tokens.id_token);

  // Tokens in query strings, a 404 carrying them, a form post to a bad interaction.
  await fetch(`${server.issuer}/me?access_token=${tokens.access_token}`);
  await fetch(`${server.issuer}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
  await fetch(`${server.issuer}/nothing/here?code=${code}&refresh_token=${tokens.refresh_token}&password=${PASSWORD}`);
  await fetch(`${server.issuer}/interaction/not-an-interaction/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: browser.jar.header() },
    body: new URLSearchParams({ email: EMAIL, password: PASSWORD }),
  });

  // Refresh, then reuse of the rotated token.
  const refreshed = await oidc.refreshTokenGrant(configuration, tokens.refresh_token!);
  secret('refreshed access token', refreshed.access_token);
  secret('rotated refresh token', refreshed.refresh_token);
  await assert.rejects(oidc.refreshTokenGrant(configuration, tokens.refresh_token!));
  // The same code again: refused.
  assert.equal((await post('/token', basic(webId, web.clientSecret!), { grant_type: 'authorization_code', code: code!, redirect_uri: REDIRECT, code_verifier: verifier })).status, 400);

  // Client credentials: wrong secret (also in the body), then right.
  assert.equal((await post('/token', basic(service.client.clientId, WRONG_SECRET), { grant_type: 'client_credentials' })).status, 401);
  await post('/token', undefined, { grant_type: 'client_credentials', client_id: service.client.clientId, client_secret: WRONG_SECRET });
  const issued = await post('/token', basic(service.client.clientId, service.clientSecret!), { grant_type: 'client_credentials', scope: 'read', resource: API });
  const serviceToken = ((await issued.json()) as { access_token: string }).access_token;
  secret('client credentials token', serviceToken);

  // Introspection and revocation.
  const introspectorAuth = basic(introspector.client.clientId, introspector.clientSecret!);
  for (const token of [serviceToken, refreshed.access_token, 'bogus']) await post('/token/introspection', introspectorAuth, { token });
  await post('/token/introspection', basic(introspector.client.clientId, WRONG_SECRET), { token: serviceToken });
  await oidc.tokenRevocation(configuration, refreshed.refresh_token!);

  // Logout.
  const logout = await fetch(oidc.buildEndSessionUrl(configuration, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: LOGOUT_REDIRECT }), {
    headers: { cookie: browser.jar.header() },
  });
  const html = await logout.text();
  const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
  const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)?.[1];
  secret('logout xsrf', xsrf);
  await fetch(new URL(action!.replaceAll('&amp;', '&'), server.issuer), {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: browser.jar.header(), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ xsrf: xsrf!, logout: 'yes' }),
  });
  await server.auditWriter.flush();
});

after(async () => {
  globalThis.fetch = realFetch;
  await server?.close();
});

describe('log redaction over full flows', () => {
  test('no password, secret, code, token, cookie or master secret appears in the logs, in any encoding', () => {
    const logs = server.logs();
    assert.ok(logs.length > 5_000, 'the flows were logged');
    for (const [name, value] of secrets) {
      for (const form of new Set([value, encodeURIComponent(value), JSON.stringify(value).slice(1, -1)])) {
        assert.ok(!logs.includes(form), `the logs hold the ${name}`);
      }
    }
  });

  test('no logged path carries a query string', () => {
    for (const line of logLines()) {
      if (typeof line.path === 'string') assert.ok(!/[?#]/.test(line.path), line.path);
      if (typeof line.url === 'string') assert.ok(!/[?#]/.test(line.url), line.url);
    }
  });

  test('every request left exactly one access-log line with its request id', () => {
    const lines = logLines().filter((line) => line.msg === 'request');
    assert.ok(requestIds.length > 25);
    for (const id of requestIds) {
      assert.equal(lines.filter((line) => line.requestId === id).length, 1, `access-log lines for ${id}`);
    }
  });

  test('an access-log line names method, route, status, duration, client and request id', () => {
    const token = logLines().find((line) => line.msg === 'request' && line.route === 'token' && line.status === 200);
    assert.ok(token);
    assert.equal(token.method, 'POST');
    assert.equal(token.path, '/token');
    assert.equal(typeof token.durationMs, 'number');
    assert.match(String(token.clientId), /^\w{10,}$/);
    assert.match(String(token.requestId), /^[\w-]{36}$/);
    const refused = logLines().find((line) => line.msg === 'request' && line.route === 'token' && line.status === 401);
    assert.equal(refused?.error, 'invalid_client');
    const login = logLines().find((line) => line.msg === 'request' && line.route === '/interaction/:uid/login');
    assert.ok(login, 'our own routes are named by their pattern');
    const notFound = logLines().find((line) => line.msg === 'request' && line.status === 404 && line.path === '/nothing/here');
    assert.equal(notFound?.route, 'unmatched');
  });
});
