import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import * as oidc from 'openid-client';

import { authorizationRequest, confirmLogout, CookieJar, csrfToken, openPage, runBrowser, send, submitForm, type Page } from '../helpers/browserless-login.ts';
import { accountUrl as pageUrl, signedOutOfAccountPage, signInToAccountPage } from '../helpers/account-page.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// The account page (/account) over real HTTP, as a browser drives it: signed in through
// Portcullis itself (the code flow with PKCE of its own client), then every change a person
// can make, each also as an attacker would try it (no CSRF token, another session's token,
// another person's session or app, a forged callback or cookie, a disabled owner).

const APP = 'account-test-app';
const REDIRECT = 'http://localhost:8080/callback';
const PASSWORD = 'the account page password, long';
const NEW_PASSWORD = 'an entirely new passphrase, 2026';

let server: TestServer;
let app: oidc.Configuration;
let people = 0;

before(async () => {
  server = await startTestServer(
    { RATE_LIMIT_LOGIN: '600/1m' },
    { declare: { clients: [{ clientId: APP, name: 'Account Test App', type: 'web', redirectUris: [REDIRECT], scopes: ['openid', 'email', 'offline_access'] }] } },
  );
  app = await oidc.discovery(new URL(server.issuer), APP, undefined, oidc.ClientSecretBasic(server.declared.clientSecret(APP)), { execute: [oidc.allowInsecureRequests] });
});

after(async () => {
  await server?.close();
});

async function newPerson(): Promise<{ email: string; id: string }> {
  const email = `account${++people}@example.com`;
  const account = await server.services.accounts.create({ email, name: `Person ${people}`, password: PASSWORD });
  return { email, id: account.id };
}

const accountUrl = (path = '') => pageUrl(server.issuer, path);

const signIn = (email: string, password = PASSWORD, jar = new CookieJar()) => signInToAccountPage(server.issuer, email, password, jar);

async function showPage(jar: CookieJar): Promise<Page> {
  return openPage(jar, accountUrl());
}

async function post(jar: CookieJar, path: string, fields: Record<string, string>): Promise<Response> {
  return submitForm(jar, accountUrl(path), fields);
}

/** A refresh token of the test app, from a sign-in of this browser. */
async function authorizeApp(jar: CookieJar, email: string): Promise<string> {
  const request = authorizationRequest(server.issuer, { client_id: APP, redirect_uri: REDIRECT, scope: 'openid email offline_access', prompt: 'consent' });
  const result = await runBrowser(request.url, { jar, email, password: PASSWORD, consent: 'allow' });
  const tokens = await oidc.authorizationCodeGrant(app, result.url, { pkceCodeVerifier: request.verifier, expectedState: request.state });
  assert.ok(tokens.refresh_token);
  return tokens.refresh_token;
}

async function refreshWorks(refreshToken: string): Promise<boolean> {
  try {
    await oidc.refreshTokenGrant(app, refreshToken);
    return true;
  } catch (error) {
    assert.ok(error instanceof oidc.ResponseBodyError, String(error));
    assert.equal(error.error, 'invalid_grant');
    return false;
  }
}

const signedOut = (jar: CookieJar) => signedOutOfAccountPage(server.issuer, jar);

describe('signing in', () => {
  test('signed out, the page starts the code flow with PKCE of its own first-party client, and comes back to the page', async () => {
    const person = await newPerson();
    const jar = new CookieJar();
    const start = await send(jar, accountUrl());
    const auth = new URL(start.headers.get('location')!);
    assert.equal(auth.origin, server.issuer);
    assert.equal(auth.searchParams.get('client_id'), 'portcullis-account');
    assert.equal(auth.searchParams.get('code_challenge_method'), 'S256');
    assert.equal(auth.searchParams.get('redirect_uri'), `${server.issuer}/account/callback`);
    assert.ok(auth.searchParams.get('state') && auth.searchParams.get('nonce'));
    assert.doesNotMatch(start.headers.get('set-cookie') ?? '', /portcullis\.account=/, 'no page session cookie, set or cleared, before the sign-in');

    const pages: string[] = [];
    const result = await runBrowser(auth, { jar, email: person.email, password: PASSWORD, stopAt: (url) => url.pathname === '/account/callback', onPage: (html) => pages.push(html) });
    assert.deepEqual(result.pages, ['login'], 'first party: no consent asked');
    const page = await openPage(jar, result.url);
    assert.equal(page.response.status, 200);
    assert.equal(page.url.pathname, '/account');
    assert.match(page.html, new RegExp(`Signed in as <strong>${person.email}</strong>`));
    assert.match(page.html, /value="Person \d+"/);
    assert.match(page.response.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
    assert.equal(page.response.headers.get('cache-control'), 'no-store');
  });

  test('lists the recent sign-ins from the audit trail', async () => {
    const person = await newPerson();
    await signIn(person.email);
    await server.auditWriter.flush();
    const { page } = await signIn(person.email);
    const signIns = page.html.slice(page.html.indexOf('id="sign-ins-heading"'));
    assert.equal((signIns.match(/<li>/g) ?? []).length >= 1, true, 'at least the first sign-in is listed');
    assert.match(signIns, /UTC · (127\.0\.0\.1|::1|::ffff:127\.0\.0\.1)/);
  });

  test('a callback without this browser’s attempt, with another state, or replayed, ends in a 400 page and no session', async () => {
    const person = await newPerson();
    // No attempt at all.
    const forged = await send(new CookieJar(), accountUrl('/callback?code=abc&state=def&iss=' + encodeURIComponent(server.issuer)));
    assert.equal(forged.status, 400);
    assert.match(await forged.text(), /Sign-in did not finish/);
    // Another browser's callback: the victim's code in the attacker's browser (its own attempt).
    const victim = new CookieJar();
    const victimStart = await send(victim, accountUrl());
    const victimResult = await runBrowser(new URL(victimStart.headers.get('location')!), { jar: victim, email: person.email, password: PASSWORD, stopAt: (url) => url.pathname === '/account/callback' });
    const attacker = new CookieJar();
    await send(attacker, accountUrl());
    const stolen = await send(attacker, victimResult.url);
    assert.equal(stolen.status, 400, 'the state is not the attacker’s attempt');
    assert.equal(attacker.get('portcullis.account'), undefined);
    // The victim's own callback still works once, then not again.
    const first = await send(victim, victimResult.url);
    assert.equal(first.status, 302);
    assert.equal(first.headers.get('location'), '/account');
    const again = await send(victim, victimResult.url);
    assert.equal(again.status, 400, 'a replayed callback is refused');
  });

  test('an authorization request for the page’s client written by someone else is refused, not answered with a code', async () => {
    const victim = await newPerson();
    // The attacker starts a sign-in in their own browser and keeps the URL (their state and verifier).
    const attacker = new CookieJar();
    const crafted = new URL((await send(attacker, accountUrl())).headers.get('location')!);
    // The victim is signed in to Portcullis (an app's sign-in) and opens the attacker's link.
    const victimJar = new CookieJar();
    await authorizeApp(victimJar, victim.email);
    const opened = await send(victimJar, crafted);
    assert.equal(opened.status, 400, 'no redirect with a code to the callback');
    assert.equal(opened.headers.get('location'), null);
    assert.match(await opened.text(), /Sign-in did not finish/);
    // The same as a form POST, and without any state.
    const posted = await send(victimJar, new URL('/auth', server.issuer), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: crafted.searchParams.toString(),
    });
    assert.equal(posted.status, 400);
    // The engine's router takes other spellings of its path too; so does the guard.
    for (const path of ['/AUTH', '/Auth', '/auth/']) {
      const spelled = new URL(crafted);
      spelled.pathname = path;
      const answer = await send(victimJar, spelled);
      assert.equal(answer.status, 400, `${path}: refused, not ${answer.status} to ${answer.headers.get('location')}`);
    }
    const stateless = new URL(crafted);
    stateless.searchParams.delete('state');
    assert.equal((await send(attacker, stateless)).status, 400, 'not even in the browser that has an attempt');
    // The attacker's own browser still gets its own sign-in.
    const own = await send(attacker, crafted);
    assert.equal(own.status, 303);
  });

  test('a forged or tampered session cookie is no session', async () => {
    const person = await newPerson();
    const other = await newPerson();
    const { jar } = await signIn(person.email);
    const value = jar.get('portcullis.account')!;
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(value, 'base64url').toString()), sub: other.id })).toString('base64url');
    const tampered = jar.copy();
    tampered.set('portcullis.account', forged);
    assert.ok(await signedOut(tampered), 'the signature no longer matches');
    assert.ok(!(await signedOut(jar)));
  });
});

describe('changes', () => {
  test('the name: saved with the form’s token; without one, or with another session’s, refused and unchanged', async () => {
    const person = await newPerson();
    const { jar, page } = await signIn(person.email);
    const other = await signIn((await newPerson()).email);

    const missing = await post(jar, '/profile', { name: 'No Token' });
    assert.equal(missing.status, 403);
    const foreign = await post(jar, '/profile', { csrf: csrfToken(other.page.html), name: 'Foreign Token' });
    assert.equal(foreign.status, 403, 'a token of another session is worthless here');

    const saved = await post(jar, '/profile', { csrf: csrfToken(page.html), name: '  Ada Lovelace ' });
    assert.equal(saved.status, 303);
    assert.equal(saved.headers.get('location'), '/account?done=profile');
    assert.equal((await server.services.accounts.findById(person.id))?.name, 'Ada Lovelace');

    const spoofing = await post(jar, '/profile', { csrf: csrfToken(page.html), name: 'Ada\u202Eecalevol' });
    assert.equal(spoofing.status, 400);
    assert.match(await spoofing.text(), /invisible characters/);
    assert.equal((await server.services.accounts.findById(person.id))?.name, 'Ada Lovelace');
  });

  test('the password: the current one is required (and counted), the new one checked, every other browser signed out', async () => {
    const person = await newPerson();
    const { jar, page } = await signIn(person.email);
    const elsewhere = await signIn(person.email);
    const refreshToken = await authorizeApp(new CookieJar(), person.email);
    const csrf = csrfToken(page.html);

    const wrong = await post(jar, '/password', { csrf, current: 'not my password at all', password: NEW_PASSWORD });
    assert.equal(wrong.status, 400);
    assert.match(await wrong.text(), /That is not your current password/);
    const guessable = await post(jar, '/password', { csrf, current: PASSWORD, password: 'password123' });
    assert.equal(guessable.status, 400);
    const tooShort = await post(jar, '/password', { csrf, current: PASSWORD, password: 'short' });
    assert.equal(tooShort.status, 400);
    assert.ok((await server.services.accounts.authenticate(person.email, PASSWORD)).ok, 'unchanged so far');

    const changed = await post(jar, '/password', { csrf, current: PASSWORD, password: NEW_PASSWORD });
    assert.equal(changed.status, 303);
    assert.ok((await server.services.accounts.authenticate(person.email, NEW_PASSWORD)).ok);
    assert.ok(!(await server.services.accounts.authenticate(person.email, PASSWORD)).ok);
    assert.ok(!(await signedOut(jar)), 'this browser stays signed in');
    assert.ok(await signedOut(elsewhere.jar), 'the other browser is signed out');
    assert.equal(await refreshWorks(refreshToken), false, 'what was signed in elsewhere ended with it');
    await server.auditWriter.flush();
    const events = await server.database.prisma.auditEvent.findMany({ where: { accountId: person.id, type: { in: ['login.failure', 'user.password_changed'] } } });
    assert.deepEqual(events.map((event) => event.type).sort(), ['login.failure', 'user.password_changed']);
    assert.ok(events.every((event) => event.actor === person.id || event.type === 'login.failure'));
  });

  test('a password change whose signing-out fails half-way says so, and "sign out everywhere" finishes it', async () => {
    const person = await newPerson();
    const { jar, page } = await signIn(person.email);
    const elsewhere = await signIn(person.email);
    const grants = server.services.grants;
    // eslint-disable-next-line @typescript-eslint/unbound-method -- put back as it was, never called unbound
    const original = grants.listForAccount;
    // Fails once, while the sessions and grants are being ended; the page around it reads again.
    let failures = 1;
    grants.listForAccount = (accountId) => (failures-- > 0 ? Promise.reject(new Error('the database went away')) : original.call(grants, accountId));
    let response: Response;
    try {
      response = await post(jar, '/password', { csrf: csrfToken(page.html), current: PASSWORD, password: NEW_PASSWORD });
    } finally {
      grants.listForAccount = original;
    }
    assert.equal(response.status, 503);
    assert.match(await response.text(), /Your password was changed, but signing out your other devices and apps did not finish/);
    assert.ok((await server.services.accounts.authenticate(person.email, NEW_PASSWORD)).ok, 'the new password holds');
    assert.match(server.logs(), /ending its other sessions and grants failed/);
    const finished = await post(jar, '/sessions/end-all', { csrf: csrfToken(page.html) });
    assert.equal(finished.status, 303);
    assert.ok(await signedOut(elsewhere.jar));
  });

  test('an intruder’s app access ends with a password change and with "sign out everywhere", even after its browser signed out', async () => {
    for (const action of ['password', 'everywhere'] as const) {
      const person = await newPerson();
      // The intruder knew the password: an app with offline access, then signed out of the
      // browser (the grant outlives that session).
      const intruder = new CookieJar();
      const intruderToken = await authorizeApp(intruder, person.email);
      await confirmLogout(intruder, new URL('/session/end', server.issuer));
      assert.equal(await refreshWorks(intruderToken), true, 'offline access outlives the browser session');
      const { jar, page } = await signIn(person.email);
      const response =
        action === 'password'
          ? await post(jar, '/password', { csrf: csrfToken(page.html), current: PASSWORD, password: NEW_PASSWORD })
          : await post(jar, '/sessions/end-all', { csrf: csrfToken(page.html) });
      assert.equal(response.status, 303);
      assert.equal(await refreshWorks(intruderToken), false, `${action}: the intruder's refresh token ends`);
      assert.equal(await signedOut(jar), action === 'everywhere', `${action}: this page stays only after a password change`);
    }
  });

  test('ending a session: one of the person’s own only; another person’s session id does nothing', async () => {
    const person = await newPerson();
    const victim = await newPerson();
    const { jar, page } = await signIn(person.email);
    const second = await signIn(person.email);
    const victimBrowser = await signIn(victim.email);
    const [victimSession] = await server.services.grants.listSessions(victim.id);
    assert.ok(victimSession);

    const foreign = await post(jar, '/sessions/end', { csrf: csrfToken(page.html), id: victimSession.id });
    assert.equal(foreign.status, 303);
    assert.ok(!(await signedOut(victimBrowser.jar)), 'the other person is still signed in');

    const sessions = await server.services.grants.listSessions(person.id);
    assert.equal(sessions.length, 2);
    const now = await showPage(jar);
    const offered = sessions.filter((one) => now.html.includes(`name="id" value="${one.id}"`));
    assert.equal(offered.length, 1, 'the page offers to end the other browser, not its own');
    const ended = await post(jar, '/sessions/end', { csrf: csrfToken(page.html), id: offered[0]!.id });
    assert.equal(ended.status, 303);
    assert.ok(await signedOut(second.jar));
    assert.ok(!(await signedOut(jar)));
  });

  test('sign out everywhere: every browser of the person, this one too; no one else', async () => {
    const person = await newPerson();
    const bystander = await newPerson();
    const { jar, page } = await signIn(person.email);
    const second = await signIn(person.email);
    const refreshToken = await authorizeApp(new CookieJar(), person.email);
    const other = await signIn(bystander.email);
    const response = await post(jar, '/sessions/end-all', { csrf: csrfToken(page.html) });
    assert.equal(response.status, 303);
    assert.ok(await signedOut(jar));
    assert.ok(await signedOut(second.jar));
    assert.equal(await refreshWorks(refreshToken), false);
    assert.ok(!(await signedOut(other.jar)));
  });

  test('apps: listed with what they may do; revoking ends their tokens; an app the person never authorized is left alone', async () => {
    const person = await newPerson();
    const bystander = await newPerson();
    const refreshToken = await authorizeApp(new CookieJar(), person.email);
    const bystanderToken = await authorizeApp(new CookieJar(), bystander.email);
    const { jar, page } = await signIn(person.email);
    const appsOf = (html: string) => html.slice(html.indexOf('id="apps-heading"'), html.indexOf('id="sign-ins-heading"'));
    assert.match(appsOf(page.html), /Account Test App/);
    assert.match(appsOf(page.html), /offline_access/);
    assert.doesNotMatch(page.html, /name="id" value="portcullis-account"/, 'the page itself is not an app to revoke');

    const revoked = await post(jar, '/apps/revoke', { csrf: csrfToken(page.html), id: APP });
    assert.equal(revoked.status, 303);
    assert.equal(await refreshWorks(refreshToken), false);
    assert.equal(await refreshWorks(bystanderToken), true, 'another person’s authorization stays');
    assert.doesNotMatch(appsOf((await showPage(jar)).html), /Account Test App/);

    const self = await post(jar, '/apps/revoke', { csrf: csrfToken(page.html), id: 'portcullis-account' });
    assert.equal(self.status, 303);
    assert.ok(!(await signedOut(jar)), 'the page’s own grant is not an app');
  });

  test('sign out: the page’s grant ends and the engine’s sign-out page follows', async () => {
    const person = await newPerson();
    const { jar, page } = await signIn(person.email);
    const response = await post(jar, '/sign-out', { csrf: csrfToken(page.html) });
    assert.equal(response.status, 303);
    const location = new URL(response.headers.get('location')!, server.issuer);
    assert.equal(location.pathname, '/session/end');
    assert.equal(location.searchParams.get('client_id'), 'portcullis-account');
    assert.ok(await signedOut(jar));
  });

  test('a disabled account is signed out of the page at once', async () => {
    const person = await newPerson();
    const { jar, page } = await signIn(person.email);
    await server.services.accounts.setDisabled(person.id, true);
    assert.ok(await signedOut(jar));
    const response = await post(jar, '/profile', { csrf: csrfToken(page.html), name: 'Still Here' });
    assert.equal(response.status, 303);
    assert.equal(response.headers.get('location'), '/account');
    assert.notEqual((await server.services.accounts.findById(person.id))?.name, 'Still Here');
  });
});
