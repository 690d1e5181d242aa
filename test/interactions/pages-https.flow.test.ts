import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { authorizationRequest, CookieJar, csrfToken } from '../helpers/browserless-login.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// Production shape: an https issuer behind a TLS-terminating proxy that says so with
// X-Forwarded-Proto (TRUST_PROXY=true). Every cookie of a whole sign-in and sign-out must
// be Secure, HttpOnly and SameSite=Lax, and the pages must send HSTS.

const ISSUER = 'https://auth.example.test';
const REDIRECT = 'https://app.example.test/callback';
const LOGOUT_REDIRECT = 'https://app.example.test/signed-out';
const EMAIL = 'sam@example.com';
const PASSWORD = 'sam has a good password';

const clientId = 'proxy-app';

let server: TestServer;
let local: string;

before(async () => {
  server = await startTestServer({ ISSUER, TRUST_PROXY: 'true' }, {
    declare: {
      users: [{ email: EMAIL, name: 'Sam', password: PASSWORD }],
      clients: [{ clientId, type: 'web', name: 'Proxy App', redirectUris: [REDIRECT], postLogoutRedirectUris: [LOGOUT_REDIRECT] }],
    },
  });
  // The test talks to the bound port; the proxy in front would have sent the same bytes.
  local = `http://127.0.0.1:${server.config.port}`;
});

after(async () => {
  await server?.close();
});

interface Hop {
  readonly url: URL;
  readonly response: Response;
  readonly html: string;
}

/** A browser behind the proxy: every request arrives over https as far as the app knows. */
function proxiedBrowser() {
  const jar = new CookieJar();
  const cookies: string[] = [];
  const hops: Hop[] = [];
  const toLocal = (url: URL) => new URL(`${url.pathname}${url.search}`, local);
  async function request(url: URL, init: RequestInit = {}): Promise<Hop> {
    const response = await fetch(toLocal(url), {
      ...init,
      redirect: 'manual',
      headers: { ...(init.headers as Record<string, string>), cookie: jar.header(), 'x-forwarded-proto': 'https', 'x-forwarded-host': new URL(ISSUER).host, accept: 'text/html' },
    });
    jar.store(response);
    cookies.push(...response.headers.getSetCookie());
    const hop = { url, response, html: await response.text() };
    hops.push(hop);
    return hop;
  }
  /** Follows redirects on the issuer; stops at a page or when sent to the client. */
  async function open(url: URL, init?: RequestInit): Promise<Hop> {
    let hop = await request(url, init);
    for (let step = 0; step < 10; step++) {
      const location = hop.response.headers.get('location');
      if (!location) return hop;
      const next = new URL(location, ISSUER);
      if (next.origin !== ISSUER) return hop;
      hop = await request(next);
    }
    throw new Error('too many redirects');
  }
  const post = (url: URL, fields: Record<string, string>) =>
    open(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });
  return { open, post, cookies, hops };
}

describe('behind a TLS-terminating proxy with an https issuer', () => {
  let browser: ReturnType<typeof proxiedBrowser>;

  before(async () => {
    browser = proxiedBrowser();
    const request = authorizationRequest(ISSUER, { client_id: clientId, redirect_uri: REDIRECT, scope: 'openid email' });
    const login = await browser.open(request.url);
    assert.equal(login.response.status, 200, login.html.slice(0, 300));
    const loggedIn = await browser.post(new URL(`${login.url.pathname}/login`, ISSUER), { csrf: csrfToken(login.html), email: EMAIL, password: PASSWORD });
    assert.equal(loggedIn.response.status, 200, 'the consent page');
    const done = await browser.post(new URL(`${loggedIn.url.pathname}/confirm`, ISSUER), { csrf: csrfToken(loggedIn.html) });
    assert.match(done.response.headers.get('location') ?? '', /^https:\/\/app\.example\.test\/callback\?code=/);

    const logout = new URL('/session/end', ISSUER);
    logout.search = new URLSearchParams({ client_id: clientId, post_logout_redirect_uri: LOGOUT_REDIRECT }).toString();
    const confirm = await browser.open(logout);
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(confirm.html)?.[1];
    assert.ok(xsrf, 'the logout confirmation holds the engine form');
    const signedOut = await browser.post(new URL('/session/end/confirm', ISSUER), { xsrf, logout: 'yes' });
    assert.match(signedOut.response.headers.get('location') ?? '', /^https:\/\/app\.example\.test\/signed-out/);
  });

  test('every cookie of sign-in, consent and sign-out is Secure, HttpOnly and SameSite=Lax', () => {
    const names = new Set(browser.cookies.map((cookie) => cookie.split('=')[0]));
    for (const name of ['_interaction', '_interaction_resume', '_session', 'portcullis.csrf', 'portcullis.restart']) {
      assert.ok(names.has(name), `${name} among ${[...names].join(', ')}`);
    }
    for (const cookie of browser.cookies) {
      assert.match(cookie, /;\s*secure/i, cookie);
      assert.match(cookie, /;\s*httponly/i, cookie);
      assert.match(cookie, /;\s*samesite=lax/i, cookie);
    }
  });

  test('every cookie is signed with the keys from the database', () => {
    const names = new Set(browser.cookies.map((cookie) => cookie.split('=')[0]!));
    for (const name of names) {
      if (name.endsWith('.sig')) continue;
      assert.ok(names.has(`${name}.sig`), `${name} has a signature cookie`);
    }
  });

  test('pages send HSTS, and still all the other headers', () => {
    const pages = browser.hops.filter((hop) => /^text\/html/.test(hop.response.headers.get('content-type') ?? ''));
    assert.ok(pages.length >= 3);
    for (const { response, url } of pages) {
      assert.match(response.headers.get('strict-transport-security') ?? '', /max-age=31536000/, url.href);
      assert.equal(response.headers.get('x-frame-options'), 'DENY');
      assert.match(response.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
    }
  });

  test('the login page allows its form to lead on to the https client, and nowhere else', () => {
    const login = browser.hops.find((hop) => hop.url.pathname.startsWith('/interaction/') && hop.response.status === 200)!;
    const formAction = /form-action ([^;]+)/.exec(login.response.headers.get('content-security-policy') ?? '')?.[1];
    assert.equal(formAction, "'self' https://app.example.test");
  });
});
