import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';

import { captureAudit } from '../helpers/capture-audit.ts';
import { authorizationRequest, CookieJar, csrfToken, openPage, submitForm, send, type Page } from '../helpers/browserless-login.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// The forms of the login and consent pages under attack: forged posts (CSRF), script in
// every field a person or a client controls (XSS), wrong and oversized bodies, stale
// interactions. Each refusal must change nothing and show no internals.

const REDIRECT = 'http://localhost:8080/callback';
const EMAIL = 'kim@example.com';
const PASSWORD = 'kim uses a passphrase';
const SCRIPT = '"><script>alert(1)</script><img src=x onerror=alert(2)>';

const clientId = 'forms-app';
const evilClientId = 'evil-app';

let server: TestServer;
const audit = captureAudit();
const { events } = audit;

before(async () => {
  server = await startTestServer({}, {
    audit,
    declare: {
      users: [{ email: EMAIL, name: 'Kim', password: PASSWORD }],
      clients: [
        { clientId, type: 'web', name: 'Forms App', redirectUris: [REDIRECT] },
        { clientId: evilClientId, type: 'web', name: `Evil ${SCRIPT}`, redirectUris: [REDIRECT] },
      ],
    },
  });
});

beforeEach(() => {
  events.length = 0;
});

after(async () => {
  await server?.close();
});

interface LoginPage extends Page {
  readonly jar: CookieJar;
  readonly csrf: string;
  action(name: 'login' | 'confirm' | 'abort'): URL;
}

async function loginPage(jar = new CookieJar(), client = clientId, extra: Record<string, string> = {}): Promise<LoginPage> {
  const page = await openPage(jar, authorizationRequest(server.issuer, { client_id: client, redirect_uri: REDIRECT, scope: 'openid email', ...extra }).url);
  assert.equal(page.response.status, 200, page.html.slice(0, 500));
  return { ...page, jar, csrf: csrfToken(page.html), action: (name) => new URL(`${page.url.pathname}/${name}`, server.issuer) };
}

/** The interaction row behind a page: what a refused post must leave untouched. */
async function interactionRow(page: LoginPage) {
  const uid = page.url.pathname.split('/')[2]!;
  const row = await server.database.prisma.oidcInteraction.findUnique({ where: { id: uid } });
  return row?.payload as Record<string, unknown> | undefined;
}

function assertNoInternals(html: string): void {
  assert.doesNotMatch(html, /\bat .+\.(ts|js):\d+/, 'no stack trace');
  assert.doesNotMatch(html, /node_modules|\/work\/|Error:|prisma/i, 'no internals');
}

describe('CSRF', () => {
  test('a login post without a token is refused with 403 and signs nobody in', async () => {
    const page = await loginPage();
    const before = await interactionRow(page);
    const response = await submitForm(page.jar, page.action('login'), { email: EMAIL, password: PASSWORD });
    assert.equal(response.status, 403);
    const html = await response.text();
    assert.match(html, /invalid_csrf_token/);
    assertNoInternals(html);
    assert.equal(response.headers.getSetCookie().some((cookie) => cookie.startsWith('_session')), false);
    assert.deepEqual(await interactionRow(page), before, 'the interaction is unchanged');
    assert.deepEqual(events.filter((event) => event.type.startsWith('login.')), [], 'not even a login attempt was made');
  });

  test('a wrong token, a token of another interaction and a token without its cookie are all refused', async () => {
    const page = await loginPage();
    // Another interaction in the same browser (same CSRF cookie; the test jar ignores
    // cookie paths, so it gets a copy to keep the first interaction's cookie intact).
    const other = await loginPage(page.jar.copy());
    assert.notEqual(other.csrf, page.csrf, 'tokens are bound to their interaction');
    const forged = await submitForm(page.jar, page.action('login'), { csrf: `${page.csrf.slice(0, -2)}xx`, email: EMAIL, password: PASSWORD });
    assert.equal(forged.status, 403);
    const borrowed = await submitForm(page.jar, page.action('login'), { csrf: other.csrf, email: EMAIL, password: PASSWORD });
    assert.equal(borrowed.status, 403);

    const stripped = page.jar.copy();
    stripped.delete('portcullis.csrf');
    stripped.delete('portcullis.csrf.sig');
    const cookieless = await submitForm(stripped, page.action('login'), { csrf: page.csrf, email: EMAIL, password: PASSWORD });
    assert.equal(cookieless.status, 403);

    // A cookie value the attacker chose fails its signature: as good as none.
    const tampered = page.jar.copy();
    tampered.set('portcullis.csrf', 'attacker-chosen');
    const resigned = await submitForm(tampered, page.action('login'), { csrf: page.csrf, email: EMAIL, password: PASSWORD });
    assert.equal(resigned.status, 403);

    // Nothing changed: the real form still works.
    const real = await submitForm(page.jar, page.action('login'), { csrf: page.csrf, email: EMAIL, password: PASSWORD });
    assert.equal(real.status, 303);
  });

  test('consent cannot be granted or denied without the token', async () => {
    const page = await loginPage();
    const loggedIn = await submitForm(page.jar, page.action('login'), { csrf: page.csrf, email: EMAIL, password: PASSWORD });
    const consent = await openPage(page.jar, new URL(loggedIn.headers.get('location')!));
    assert.match(consent.html, /wants to access your account/);
    const confirm = new URL(`${consent.url.pathname}/confirm`, server.issuer);
    const abort = new URL(`${consent.url.pathname}/abort`, server.issuer);
    assert.equal((await submitForm(page.jar, confirm, {})).status, 403);
    assert.equal((await submitForm(page.jar, abort, { csrf: page.csrf })).status, 403, 'the login page token is not the consent token');
    assert.deepEqual(events.filter((event) => event.type.startsWith('consent.')), []);
    const allowed = await submitForm(page.jar, confirm, { csrf: csrfToken(consent.html) });
    assert.equal(allowed.status, 303);
  });
});

describe('bodies', () => {
  test('only urlencoded forms are read: JSON, multipart and text get 415', async () => {
    const page = await loginPage();
    const multipart = new FormData();
    multipart.set('csrf', page.csrf);
    multipart.set('email', EMAIL);
    multipart.set('password', PASSWORD);
    for (const [type, body] of [
      ['application/json', JSON.stringify({ csrf: page.csrf, email: EMAIL, password: PASSWORD })],
      ['text/plain', `csrf=${page.csrf}&email=${EMAIL}&password=${PASSWORD}`],
    ] as const) {
      const response = await send(page.jar, page.action('login'), { method: 'POST', headers: { 'content-type': type, accept: 'text/html' }, body });
      assert.equal(response.status, 415, type);
      assert.match(await response.text(), /unsupported_media_type/);
    }
    const response = await send(page.jar, page.action('login'), { method: 'POST', body: multipart });
    assert.equal(response.status, 415, 'multipart');
  });

  test('a body over the limit gets 413, before any password is checked', async () => {
    const page = await loginPage();
    const response = await submitForm(page.jar, page.action('login'), { csrf: page.csrf, email: EMAIL, password: 'p'.repeat(20_000) });
    assert.equal(response.status, 413);
    assertNoInternals(await response.text());
    assert.deepEqual(events.filter((event) => event.type.startsWith('login.')), []);
  });

  test('a password longer than the cap is refused like any wrong password, not hashed', async () => {
    const page = await loginPage();
    const response = await submitForm(page.jar, page.action('login'), { csrf: page.csrf, email: EMAIL, password: `${PASSWORD}${'x'.repeat(5000)}` });
    assert.equal(response.status, 401);
    assert.match(await response.text(), /Email or password is incorrect\./);
  });

  test('unexpected fields are ignored, and structured ones count as empty', async () => {
    const page = await loginPage();
    const nested = await send(page.jar, page.action('login'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      body: `csrf=${page.csrf}&email[$ne]=x&password[]=a&password[]=b`,
    });
    assert.equal(nested.status, 401);
    const extra = await submitForm(page.jar, page.action('login'), {
      csrf: page.csrf,
      email: EMAIL,
      password: PASSWORD,
      accountId: 'someone-else',
      admin: 'true',
    });
    assert.equal(extra.status, 303);
    const login = events.find((event) => event.type === 'login.success');
    assert.ok(login && login.accountId !== 'someone-else');
  });
});

describe('failed logins', () => {
  test('wrong password, unknown email and disabled account get the very same page; only the trail names the account', async () => {
    const disabled = 'off@example.com';
    const off = await server.services.accounts.create({ email: disabled, name: 'Off', password: PASSWORD });
    const owner = await server.services.accounts.get(EMAIL);
    await server.services.accounts.setDisabled(disabled, true);
    const page = await loginPage();
    const attempt = async (email: string, password: string) => {
      const response = await submitForm(page.jar, page.action('login'), { csrf: page.csrf, email, password });
      const html = (await response.text())
        .replaceAll(email, 'EMAIL')
        .replace(/nonce="[^"]+"/g, 'nonce=""')
        .replace(/value="[A-Za-z0-9_-]{43}"/g, 'value="CSRF"');
      return { status: response.status, html };
    };
    const wrongPassword = await attempt(EMAIL, 'not it at all');
    const unknownEmail = await attempt('nobody@example.com', PASSWORD);
    const disabledAccount = await attempt(disabled, PASSWORD);
    assert.equal(wrongPassword.status, 401);
    assert.match(wrongPassword.html, /Email or password is incorrect\./);
    assert.deepEqual(unknownEmail, wrongPassword);
    assert.deepEqual(disabledAccount, wrongPassword);
    const failures = events.filter((event) => event.type === 'login.failure');
    assert.deepEqual(failures.map((event) => event.data), [{ reason: 'invalid_credentials' }, { reason: 'invalid_credentials' }, { reason: 'disabled' }]);
    // `portcullis events --account` finds guessing at an existing account; an unknown email names none.
    assert.deepEqual(failures.map((event) => event.accountId), [owner.id, undefined, off.id]);
  });
});

describe('escaping', () => {
  test('script typed into the email field comes back as text', async () => {
    const page = await loginPage();
    const response = await submitForm(page.jar, page.action('login'), { csrf: page.csrf, email: SCRIPT, password: 'whatever' });
    assert.equal(response.status, 401);
    const html = await response.text();
    assert.ok(html.includes('value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;"'), html);
    assert.doesNotMatch(html, /<script>alert|<img src=x/);
  });

  test('script in a login_hint comes back as text', async () => {
    const page = await loginPage(new CookieJar(), clientId, { login_hint: SCRIPT });
    assert.doesNotMatch(page.html, /<script>alert|<img src=x/);
    assert.ok(page.html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
  });

  test("script in a client's name is shown as text on the login, consent and logout pages", async () => {
    const page = await loginPage(new CookieJar(), evilClientId);
    const loggedIn = await submitForm(page.jar, page.action('login'), { csrf: page.csrf, email: EMAIL, password: PASSWORD });
    const consent = await openPage(page.jar, new URL(loggedIn.headers.get('location')!));
    const logoutUrl = new URL('/session/end', server.issuer);
    logoutUrl.searchParams.set('client_id', evilClientId);
    const logout = await openPage(page.jar, logoutUrl);
    for (const [name, html] of [['login', page.html], ['consent', consent.html], ['logout', logout.html]] as const) {
      assert.ok(html.includes('Evil &quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;'), `${name}: ${html.slice(0, 2000)}`);
      assert.doesNotMatch(html, /<script>alert|<img src=x/, name);
    }
  });
});

describe('stale and unknown interactions', () => {
  test('an unknown interaction id gets a plain-words 400 page with the request id, never a 5xx', async () => {
    const response = await send(new CookieJar(), new URL('/interaction/does-not-exist', server.issuer), { headers: { accept: 'text/html' } });
    assert.equal(response.status, 400);
    const html = await response.text();
    assert.match(html, /This sign-in has expired/);
    assert.match(html, /Go back to the application you came from and sign in again/);
    assert.match(html, /invalid_request/);
    assert.ok(html.includes(response.headers.get('x-request-id')!), 'the request id is shown');
    assertNoInternals(html);
  });

  test('an expired interaction offers to start the same authorization request again', async () => {
    const page = await loginPage();
    await server.database.prisma.oidcInteraction.deleteMany({});
    const response = await send(page.jar, page.url, { headers: { accept: 'text/html' } });
    assert.equal(response.status, 400);
    const html = await response.text();
    const restart = /<a class="button primary" href="([^"]+)">Start again<\/a>/.exec(html)?.[1]?.replaceAll('&amp;', '&');
    assert.ok(restart, html);
    assert.ok(restart.startsWith('/auth?'), restart);
    assert.equal(new URL(restart, server.issuer).searchParams.get('client_id'), clientId);
    const again = await openPage(page.jar, new URL(restart, server.issuer));
    assert.match(again.html, /<h1>Sign in<\/h1>/);
  });

  test('posting to a finished interaction is a 400 page, not an error', async () => {
    const page = await loginPage();
    const first = await submitForm(page.jar, page.action('login'), { csrf: page.csrf, email: EMAIL, password: PASSWORD });
    assert.equal(first.status, 303);
    await openPage(page.jar, new URL(first.headers.get('location')!));
    const replay = await submitForm(page.jar, page.action('login'), { csrf: page.csrf, email: EMAIL, password: PASSWORD });
    assert.equal(replay.status, 400);
    assert.match(await replay.text(), /This sign-in has expired/);
  });
});

describe('audit events', () => {
  // Consent is remembered per account and client: each test signs in a person of its own.
  test('logins, failures, consent and denial are recorded with request facts and never a password', async () => {
    const email = 'audited@example.com';
    await server.services.accounts.create({ email, name: 'Audited', password: PASSWORD });
    const page = await loginPage();
    await submitForm(page.jar, page.action('login'), { csrf: page.csrf, email: 'nobody@example.com', password: 'guess-one' });
    await submitForm(page.jar, page.action('login'), { csrf: page.csrf, email, password: 'guess-two' });
    const loggedIn = await submitForm(page.jar, page.action('login'), { csrf: page.csrf, email, password: PASSWORD });
    const consent = await openPage(page.jar, new URL(loggedIn.headers.get('location')!));
    await submitForm(page.jar, new URL(`${consent.url.pathname}/abort`, server.issuer), { csrf: csrfToken(consent.html) });

    const seen = events.filter((event) => /^(login|consent)\./.test(event.type));
    assert.deepEqual(seen.map((event) => event.type), ['login.failure', 'login.failure', 'login.success', 'consent.denied']);
    for (const event of seen) {
      assert.equal(event.clientId, clientId);
      assert.ok(event.ip && event.requestId, 'request facts');
    }
    assert.deepEqual(seen[0]!.data, { reason: 'invalid_credentials' });
    const serialised = JSON.stringify(events);
    for (const secret of ['guess-one', 'guess-two', PASSWORD, page.csrf]) assert.ok(!serialised.includes(secret), secret);
  });

  test('a logout is recorded with the account and client', async () => {
    const email = 'leaving@example.com';
    await server.services.accounts.create({ email, name: 'Leaving', password: PASSWORD });
    const page = await loginPage();
    const loggedIn = await submitForm(page.jar, page.action('login'), { csrf: page.csrf, email, password: PASSWORD });
    const consent = await openPage(page.jar, new URL(loggedIn.headers.get('location')!));
    await submitForm(page.jar, new URL(`${consent.url.pathname}/confirm`, server.issuer), { csrf: csrfToken(consent.html) });
    const account = await server.services.accounts.get(email);
    const logoutUrl = new URL('/session/end', server.issuer);
    logoutUrl.searchParams.set('client_id', clientId);
    const confirm = await openPage(page.jar, logoutUrl);
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(confirm.html)?.[1];
    assert.ok(xsrf);
    const done = await submitForm(page.jar, new URL('/session/end/confirm', server.issuer), { xsrf, logout: 'yes' });
    assert.equal(done.status, 303);
    const logout = events.find((event) => event.type === 'logout');
    assert.deepEqual(
      { accountId: logout?.accountId, clientId: logout?.clientId, data: logout?.data },
      { accountId: account.id, clientId, data: { scope: 'session' } },
    );
  });
});
