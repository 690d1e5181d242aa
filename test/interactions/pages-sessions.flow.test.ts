import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';

import * as oidc from 'openid-client';

import { authorizationRequest, CookieJar, openPage, runBrowser } from '../helpers/browserless-login.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// Sessions and remembered consent: one sign-in serves every client (SSO), consent is
// asked once per account and client and again only for what is new, and a client can
// demand a fresh login (prompt=login, max_age) or none at all (prompt=none).

const REDIRECT = 'http://localhost:8080/callback';
const EMAIL = 'noor@example.com';
const PASSWORD = 'noor picks long passwords';
const OTHER_EMAIL = 'someone@example.com';
const API = 'https://api.example.com';

const appId = 'sessions-app';
const otherAppId = 'other-app';
const firstPartyId = 'our-own-app';

let server: TestServer;
let appSecret: string;

before(async () => {
  const registration = { type: 'web' as const, redirectUris: [REDIRECT], resources: [API], scopes: ['openid', 'email', 'profile', 'read', 'write'] };
  server = await startTestServer({}, {
    declare: {
      users: [
        { email: EMAIL, name: 'Noor', password: PASSWORD },
        { email: OTHER_EMAIL, name: 'Someone Else', password: PASSWORD },
      ],
      resources: [{ indicator: API, name: 'Example API', scopes: [{ name: 'read', description: 'Read your files' }, { name: 'write' }] }],
      clients: [
        { ...registration, clientId: appId, name: 'Sessions App' },
        { ...registration, clientId: otherAppId, name: 'Other App' },
        { ...registration, clientId: firstPartyId, name: 'Our Own App', firstParty: true },
      ],
    },
  });
  appSecret = server.declared.clientSecret(appId);
});

after(async () => {
  await server?.close();
});

const authorize = (clientId: string, params: Record<string, string> = {}) =>
  authorizationRequest(server.issuer, { client_id: clientId, redirect_uri: REDIRECT, scope: 'openid email', ...params }).url;

let people = 0;

/**
 * A new person with their own browser (cookie jar), signed in to the app once. Consent is
 * remembered per account and client, so each test that checks consent needs its own person.
 */
async function signedIn(): Promise<CookieJar & { email: string }> {
  const email = `person${++people}@example.com`;
  await server.services.accounts.create({ email, name: `Person ${people}`, password: PASSWORD });
  const jar = new CookieJar();
  const result = await runBrowser(authorize(appId), { jar, email, password: PASSWORD });
  assert.deepEqual(result.pages, ['login', 'consent']);
  assert.ok(result.url.searchParams.get('code'));
  return Object.assign(jar, { email });
}

describe('single sign-on', () => {
  test('a second client gets a code without a password, asking only for its own consent', async () => {
    const jar = await signedIn();
    const result = await runBrowser(authorize(otherAppId), { jar });
    assert.deepEqual(result.pages, ['consent']);
    assert.ok(result.url.searchParams.get('code'));
  });

  test('a first-party client skips consent altogether', async () => {
    const jar = new CookieJar();
    const result = await runBrowser(authorize(firstPartyId, { scope: 'openid email profile read', resource: API }), { jar, email: EMAIL, password: PASSWORD });
    assert.deepEqual(result.pages, ['login']);
    assert.ok(result.url.searchParams.get('code'));
  });
});

describe('remembered consent', () => {
  test('the same scopes again need no consent; a new scope asks for that scope only', async () => {
    const jar = await signedIn();
    const again = await runBrowser(authorize(appId), { jar });
    assert.deepEqual(again.pages, [], 'straight back to the client');
    assert.ok(again.url.searchParams.get('code'));

    const seen: string[] = [];
    const more = await runBrowser(authorize(appId, { scope: 'openid email profile read', resource: API }), { jar, onPage: (html) => seen.push(html) });
    assert.deepEqual(more.pages, ['consent']);
    const consent = seen[0]!;
    assert.match(consent, /<li>\s*<svg[^>]*><path [^>]*\/><\/svg>\s*<span>See your name and basic profile <code>profile<\/code><\/span>/, 'profile is asked for');
    assert.match(consent, /<li>\s*<svg[^>]*><path [^>]*\/><\/svg>\s*<span>Read your files <code>read<\/code><\/span>/, 'read is asked for');
    assert.match(consent, /Example API/);
    assert.match(
      consent,
      /<li class="allowed">\s*<svg[^>]*><path [^>]*\/><\/svg>\s*<span>See your email address <code>email<\/code> <span class="badge">Already allowed<\/span>/,
      'email was granted before: listed, marked as already allowed',
    );

    const thenNothing = await runBrowser(authorize(appId, { scope: 'openid profile read', resource: API }), { jar });
    assert.deepEqual(thenNothing.pages, [], 'a subset of what was granted');
  });

  test('consent is remembered across browsers: a new sign-in elsewhere is not asked again', async () => {
    const jar = await signedIn();
    const elsewhere = await runBrowser(authorize(appId), { jar: new CookieJar(), email: jar.email, password: PASSWORD });
    assert.deepEqual(elsewhere.pages, ['login']);
    assert.ok(elsewhere.url.searchParams.get('code'));
  });

  test('consent belongs to the account and client: another client is asked', async () => {
    const jar = await signedIn();
    const other = await runBrowser(authorize(otherAppId), { jar });
    assert.deepEqual(other.pages, ['consent']);
  });

  test('prompt=consent asks again even for granted scopes', async () => {
    const jar = await signedIn();
    const asked = await runBrowser(authorize(appId, { prompt: 'consent' }), { jar });
    assert.deepEqual(asked.pages, ['consent']);
  });
});

describe('forcing or forbidding a login', () => {
  test('prompt=none without a session returns login_required to the client', async () => {
    const result = await runBrowser(authorize(appId, { prompt: 'none', state: 'silent' }));
    assert.deepEqual(result.pages, []);
    assert.equal(result.url.origin + result.url.pathname, REDIRECT);
    assert.equal(result.url.searchParams.get('error'), 'login_required');
    assert.equal(result.url.searchParams.get('state'), 'silent');
  });

  test('prompt=none with a session and consent returns a code without any page', async () => {
    const jar = await signedIn();
    const result = await runBrowser(authorize(appId, { prompt: 'none' }), { jar });
    assert.deepEqual(result.pages, []);
    assert.ok(result.url.searchParams.get('code'));
  });

  test('prompt=none when consent is missing returns consent_required', async () => {
    const jar = await signedIn();
    const result = await runBrowser(authorize(otherAppId, { prompt: 'none' }), { jar });
    assert.equal(result.url.searchParams.get('error'), 'consent_required');
  });

  test('prompt=login asks for the password again, with the email filled in', async () => {
    const jar = await signedIn();
    const seen: string[] = [];
    const result = await runBrowser(authorize(appId, { prompt: 'login' }), { jar, email: jar.email, password: PASSWORD, onPage: (html) => seen.push(html) });
    assert.deepEqual(result.pages, ['login']);
    assert.match(seen[0]!, /Confirm it’s you/);
    assert.ok(seen[0]!.includes(`value="${jar.email}"`));
    assert.ok(result.url.searchParams.get('code'));
  });

  test('max_age forces a fresh login once the last one is older', async () => {
    const jar = await signedIn();
    const fresh = await runBrowser(authorize(appId, { max_age: '60' }), { jar });
    assert.deepEqual(fresh.pages, [], 'signed in a moment ago: within max_age');
    await sleep(2100);
    const stale = await runBrowser(authorize(appId, { max_age: '1' }), { jar, email: jar.email, password: PASSWORD });
    assert.deepEqual(stale.pages, ['login']);
    assert.ok(stale.url.searchParams.get('code'));
  });
});

describe('logout', () => {
  test("an id_token_hint proves the client only for the signed-in person: another person's token still asks", async () => {
    const configuration = await oidc.discovery(new URL(server.issuer), appId, undefined, oidc.ClientSecretBasic(appSecret), {
      execute: [oidc.allowInsecureRequests],
    });
    const idTokenOf = async (email: string, jar: CookieJar) => {
      const request = authorizationRequest(server.issuer, { client_id: appId, redirect_uri: REDIRECT, scope: 'openid email' });
      const result = await runBrowser(request.url, { jar, email, password: PASSWORD });
      const tokens = await oidc.authorizationCodeGrant(configuration, result.url, { pkceCodeVerifier: request.verifier, expectedState: request.state });
      return tokens.id_token!;
    };
    const noor = new CookieJar();
    const noorsToken = await idTokenOf(EMAIL, noor);
    const someonesToken = await idTokenOf(OTHER_EMAIL, new CookieJar());
    const logoutPage = async (idTokenHint: string) => {
      const url = new URL('/session/end', server.issuer);
      url.searchParams.set('id_token_hint', idTokenHint);
      return (await openPage(noor, url)).html;
    };
    assert.match(await logoutPage(noorsToken), /data-auto-submit/, 'her own token: no question');
    const asked = await logoutPage(someonesToken);
    assert.match(asked, /Sign out\?/);
    assert.doesNotMatch(asked, /data-auto-submit|auto-submit\.js/);
  });

  test('the issuer advertises back-channel logout for clients that register a URI', async () => {
    const metadata = (await (await fetch(new URL('/.well-known/openid-configuration', server.issuer))).json()) as Record<string, unknown>;
    assert.equal(metadata.backchannel_logout_supported, true);
    assert.equal(metadata.backchannel_logout_session_supported, true);
    assert.ok(metadata.end_session_endpoint);
  });
});
