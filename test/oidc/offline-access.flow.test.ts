import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import * as oidc from 'openid-client';

import { authorizationRequest, CookieJar, runBrowser } from '../helpers/browserless-login.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// Consent when a person returns, and refresh tokens without prompt=consent every time.
// A real relying party (openid-client) redeems every code. The engine keeps offline_access
// in a request only with prompt=consent; once a person allowed an app offline access, the
// app gets refresh tokens on later sign-ins without asking the person again.

const REDIRECT = 'http://localhost:8080/callback';
const PASSWORD = 'a long and correct password';
const API = 'https://api.example.com';
const appId = 'offline-app';
const noRefreshId = 'no-refresh-app';
const restrictedId = 'offline-restricted-app';

let server: TestServer;
let app: oidc.Configuration;
let noRefresh: oidc.Configuration;
let restricted: oidc.Configuration;
let people = 0;

before(async () => {
  const registration = { type: 'web' as const, redirectUris: [REDIRECT], resources: [API], scopes: ['openid', 'email', 'profile', 'offline_access', 'read'] };
  server = await startTestServer({}, {
    declare: {
      resources: [{ indicator: API, name: 'Example API', scopes: [{ name: 'read', description: 'Read your files' }] }],
      clients: [
        { ...registration, clientId: appId, name: 'Offline App' },
        { ...registration, clientId: noRefreshId, name: 'Code Only App', grantTypes: ['authorization_code'] },
        { ...registration, clientId: restrictedId, name: 'Later Restricted App' },
      ],
    },
  });
  const discover = (id: string) =>
    oidc.discovery(new URL(server.issuer), id, undefined, oidc.ClientSecretBasic(server.declared.clientSecret(id)), { execute: [oidc.allowInsecureRequests] });
  [app, noRefresh, restricted] = await Promise.all([discover(appId), discover(noRefreshId), discover(restrictedId)]);
});

after(async () => {
  await server?.close();
});

async function newPerson(): Promise<{ email: string; jar: CookieJar }> {
  const email = `offline${++people}@example.com`;
  await server.services.accounts.create({ email, name: `Offline ${people}`, password: PASSWORD });
  return { email, jar: new CookieJar() };
}

/** Runs one sign-in for `clientId` and redeems the code with openid-client. */
async function signIn(
  configuration: oidc.Configuration,
  clientId: string,
  who: { email: string; jar: CookieJar },
  params: Record<string, string>,
  onPage?: (html: string) => void,
) {
  const request = authorizationRequest(server.issuer, { client_id: clientId, redirect_uri: REDIRECT, ...params });
  const result = await runBrowser(request.url, { jar: who.jar, email: who.email, password: PASSWORD, ...(onPage && { onPage }) });
  const tokens = await oidc.authorizationCodeGrant(configuration, result.url, { pkceCodeVerifier: request.verifier, expectedState: request.state });
  return { pages: result.pages, tokens };
}

describe('a returning person asked again (prompt=consent)', () => {
  test('sees everything the app will get, what was allowed before marked as already allowed', async () => {
    const who = await newPerson();
    const first = await signIn(app, appId, who, { scope: 'openid email read', resource: API });
    assert.deepEqual(first.pages, ['login', 'consent']);

    const seen: string[] = [];
    const again = await signIn(app, appId, who, { scope: 'openid email profile read', resource: API, prompt: 'consent' }, (html) => seen.push(html));
    assert.deepEqual(again.pages, ['consent']);
    const page = seen[0]!;
    const item = (name: string) => new RegExp(`<li( class="allowed")?>\\s*<svg[^>]*><path [^>]*/></svg>\\s*<span>[^<]*<code>${name}</code>( <span class="badge">Already allowed</span>)?</span>`).exec(page);
    assert.equal(item('email')?.[1], ' class="allowed"', 'email: allowed before');
    assert.equal(item('email')?.[2], ' <span class="badge">Already allowed</span>');
    assert.equal(item('read')?.[1], ' class="allowed"', 'read on the API: allowed before');
    assert.equal(item('profile')?.[1], undefined, 'profile: new, asked for');
    assert.ok(item('profile'), 'profile is listed');
    assert.equal((page.match(/Already allowed/g) ?? []).length, 2);
    assert.ok(again.tokens.access_token);
  });

  test('asked again for exactly what it has, the page is not empty: every item is there, all marked', async () => {
    const who = await newPerson();
    await signIn(app, appId, who, { scope: 'openid email' });
    const seen: string[] = [];
    const again = await signIn(app, appId, who, { scope: 'openid email', prompt: 'consent' }, (html) => seen.push(html));
    assert.deepEqual(again.pages, ['consent']);
    assert.match(seen[0]!, /<li class="allowed">\s*<svg[^>]*><path [^>]*\/><\/svg>\s*<span>See your email address <code>email<\/code> <span class="badge">Already allowed<\/span>/);
  });
});

describe('refresh tokens once a person allowed offline access', () => {
  test('after one consent to offline_access, later sign-ins without prompt=consent get a refresh token, and it works', async () => {
    const who = await newPerson();
    const first = await signIn(app, appId, who, { scope: 'openid email offline_access', prompt: 'consent' });
    assert.deepEqual(first.pages, ['login', 'consent']);
    assert.ok(first.tokens.refresh_token, 'the consented sign-in gets a refresh token');

    // A new browser, no prompt=consent: the engine drops offline_access from the request,
    // the person is not asked, and the app still gets a refresh token.
    const later = await signIn(app, appId, { email: who.email, jar: new CookieJar() }, { scope: 'openid email offline_access' });
    assert.deepEqual(later.pages, ['login'], 'no consent page');
    assert.ok(later.tokens.refresh_token, 'a refresh token without prompt=consent');
    const refreshed = await oidc.refreshTokenGrant(app, later.tokens.refresh_token);
    assert.ok(refreshed.access_token);
    assert.ok(refreshed.refresh_token, 'rotated');
  });

  test('a person who never allowed offline access gives the app no refresh token without prompt=consent', async () => {
    const who = await newPerson();
    const first = await signIn(app, appId, who, { scope: 'openid email offline_access' });
    assert.deepEqual(first.pages, ['login', 'consent']);
    assert.equal(first.tokens.refresh_token, undefined);
  });

  test('once the operator takes offline_access from the app, a remembered consent no longer gives it refresh tokens', async () => {
    const who = await newPerson();
    const first = await signIn(restricted, restrictedId, who, { scope: 'openid email offline_access', prompt: 'consent' });
    assert.ok(first.tokens.refresh_token);
    await server.services.clients.update(restrictedId, { scopes: ['openid', 'email', 'profile', 'read'] });
    const later = await signIn(restricted, restrictedId, { email: who.email, jar: new CookieJar() }, { scope: 'openid email' });
    assert.equal(later.tokens.refresh_token, undefined);
  });

  test('an app not registered for the refresh_token grant gets none, whatever the person allowed', async () => {
    const who = await newPerson();
    const first = await signIn(noRefresh, noRefreshId, who, { scope: 'openid email offline_access', prompt: 'consent' });
    assert.deepEqual(first.pages, ['login', 'consent']);
    assert.equal(first.tokens.refresh_token, undefined);
    const later = await signIn(noRefresh, noRefreshId, { email: who.email, jar: new CookieJar() }, { scope: 'openid email offline_access' });
    assert.equal(later.tokens.refresh_token, undefined);
  });
});
