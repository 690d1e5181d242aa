import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { authorizationRequest, CookieJar, openPage } from '../helpers/browserless-login.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// No dead ends: the issuer's root says what this is and where discovery is; an unknown
// path answers a page or JSON by Accept; an error page leads back to the application when
// the client is known, and only ever to an address the client registered.

const REDIRECT = 'http://localhost:8080/callback';
const HOME = 'https://app.example.com/';

let server: TestServer;

before(async () => {
  server = await startTestServer({}, {
    declare: {
      clients: [
        { clientId: 'with-home', name: 'Home App', type: 'web', redirectUris: [REDIRECT], clientUri: HOME },
        { clientId: 'no-home', name: 'Plain App', type: 'web', redirectUris: [REDIRECT] },
      ],
    },
  });
});

after(async () => {
  await server?.close();
});

const get = (path: string, accept: string, extra: Record<string, string> = {}) => fetch(new URL(path, server.issuer), { headers: { accept, ...extra } });

describe('the issuer root', () => {
  test('a browser gets a landing page: what this is, the issuer, a link to discovery, with the pages’ CSP', async () => {
    const response = await get('/', 'text/html');
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /text\/html/);
    assert.match(response.headers.get('content-security-policy') ?? '', /script-src 'self' 'nonce-/);
    const html = await response.text();
    assert.match(html, /<h1>This is a sign-in service<\/h1>/);
    assert.match(html, /OpenID Connect and OAuth 2\.0 authorization server/);
    assert.ok(html.includes(`href="${server.issuer}/.well-known/openid-configuration"`), 'links discovery');
    assert.ok(html.includes(`<code>${server.issuer}</code>`), 'names the issuer');
    assert.match(html, /<dt>Status<\/dt><dd>Running<\/dd>/);
  });

  test('an API caller (or curl, */*) gets the same facts as JSON, and the discovery link works', async () => {
    assert.match((await get('/', '*/*')).headers.get('content-type') ?? '', /application\/json/);
    const response = await get('/', 'application/json');
    assert.equal(response.status, 200);
    const body = (await response.json()) as { issuer: string; discovery: string; status: string };
    assert.deepEqual(body, { issuer: server.issuer, discovery: `${server.issuer}/.well-known/openid-configuration`, status: 'ok' });
    const discovery = await fetch(body.discovery);
    assert.equal(discovery.status, 200);
    assert.equal(((await discovery.json()) as { issuer: string }).issuer, server.issuer);
  });
});

describe('unknown paths', () => {
  test('a browser gets a not-found page with a way to the start page', async () => {
    const response = await get('/no/such/page', 'text/html');
    assert.equal(response.status, 404);
    assert.match(response.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
    const html = await response.text();
    assert.match(html, /<h1>Page not found<\/h1>/);
    assert.match(html, /<a class="button secondary" href="\/">Go to the start page<\/a>/);
  });

  test('anything else gets OAuth’s JSON error shape', async () => {
    for (const accept of ['application/json', '*/*']) {
      const response = await get('/no/such/page', accept);
      assert.equal(response.status, 404, accept);
      assert.match(response.headers.get('content-type') ?? '', /application\/json/);
      assert.deepEqual(await response.json(), { error: 'not_found', error_description: 'nothing at GET /no/such/page' });
    }
  });

  test('the engine’s own answers are left alone: a bad token request keeps its protocol error', async () => {
    const response = await fetch(new URL('/token', server.issuer), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=nope' });
    assert.equal(response.status, 400);
    assert.notEqual(((await response.json()) as { error: string }).error, 'not_found');
  });
});

describe('a way back from an error page', () => {
  test('a known client with a registered home page: the error page links back to it', async () => {
    const request = authorizationRequest(server.issuer, { client_id: 'with-home', redirect_uri: 'http://evil.example/steal' });
    const page = await openPage(new CookieJar(), request.url);
    assert.equal(page.response.status, 400);
    assert.match(page.html, /This application is not allowed to redirect here/);
    assert.ok(page.html.includes(`<a class="button primary" href="${HOME}" rel="noreferrer">Back to Home App</a>`), page.html);
    assert.ok(!page.html.includes('evil.example'), 'the unregistered redirect never becomes a link');
  });

  test('without a home page, an unregistered redirect_uri gets no link at all', async () => {
    const request = authorizationRequest(server.issuer, { client_id: 'no-home', redirect_uri: 'http://evil.example/steal' });
    const page = await openPage(new CookieJar(), request.url);
    assert.equal(page.response.status, 400);
    assert.doesNotMatch(page.html, /Back to/);
    assert.ok(!page.html.includes('evil.example'));
  });

  test('an unknown client gets no link', async () => {
    const request = authorizationRequest(server.issuer, { client_id: 'nobody', redirect_uri: REDIRECT });
    const page = await openPage(new CookieJar(), request.url);
    assert.equal(page.response.status, 400);
    assert.match(page.html, /This application is not known/);
    assert.doesNotMatch(page.html, /Back to/);
  });
});
