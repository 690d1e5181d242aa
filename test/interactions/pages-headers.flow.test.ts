import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import * as oidc from 'openid-client';

import { authorizationRequest, CookieJar, csrfToken, openPage, submitForm, send } from '../helpers/browserless-login.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// Every page a person can see, the engine's own included, carries the same hardening:
// a nonce-based CSP that forbids framing and limits form targets, X-Frame-Options,
// nosniff, no referrer, no caching. Collected once, then checked header by header.

const REDIRECT = 'http://localhost:8080/callback';
const LOGOUT_REDIRECT = 'http://localhost:8080/signed-out';
const EMAIL = 'lin@example.com';
const PASSWORD = 'a very good password';

interface Seen {
  readonly response: Response;
  readonly html: string;
}

const PAGE_NAMES = [
  'login',
  'login with an error',
  'consent',
  'CSRF refusal',
  'unsupported media type',
  'body too large',
  'expired interaction',
  'engine error',
  'form_post response',
  'logout confirmation',
  'logout proven by id_token_hint',
  'signed out',
] as const;
type PageName = (typeof PAGE_NAMES)[number];

let server: TestServer;
const pages = new Map<PageName, Seen>();
const cookies: string[] = [];

/** Keeps a page: an unread response, or one openPage already read. */
async function keep(name: PageName, page: Response | Seen): Promise<Seen> {
  const seen = page instanceof Response ? { response: page, html: await page.text() } : page;
  pages.set(name, seen);
  return seen;
}

function expectRedirect(response: Response): URL {
  assert.ok(response.status >= 300 && response.status < 400, `expected a redirect, got ${response.status}`);
  return new URL(response.headers.get('location')!, server.issuer);
}

before(async () => {
  server = await startTestServer();
  const { accounts, clients } = server.services;
  await accounts.create({ email: EMAIL, name: 'Lin', password: PASSWORD });
  const created = await clients.create({
    type: 'web',
    name: 'Header Check',
    redirectUris: [REDIRECT],
    postLogoutRedirectUris: [LOGOUT_REDIRECT],
  });
  const clientId = created.client.clientId;
  const configuration = await oidc.discovery(new URL(server.issuer), clientId, undefined, oidc.ClientSecretBasic(created.clientSecret), {
    execute: [oidc.allowInsecureRequests],
  });

  const jar = new CookieJar();
  const recordCookies = (response: Response) => cookies.push(...response.headers.getSetCookie());
  const request = authorizationRequest(server.issuer, { client_id: clientId, redirect_uri: REDIRECT, scope: 'openid email' });
  const login = await openPage(jar, request.url);
  recordCookies(login.response);
  await keep('login', login);
  const action = (name: string) => new URL(`${login.url.pathname}/${name}`, server.issuer);
  const csrf = csrfToken(login.html);

  await keep('login with an error', await submitForm(jar, action('login'), { csrf, email: EMAIL, password: 'wrong' }));
  await keep('unsupported media type', await send(jar, action('login'), {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/html' },
    body: JSON.stringify({ csrf, email: EMAIL, password: PASSWORD }),
  }));
  await keep('body too large', await submitForm(jar, action('login'), { csrf, email: EMAIL, password: 'x'.repeat(40_000) }));

  const loggedIn = await submitForm(jar, action('login'), { csrf, email: EMAIL, password: PASSWORD });
  recordCookies(loggedIn);
  const consent = await openPage(jar, expectRedirect(loggedIn));
  recordCookies(consent.response);
  await keep('consent', consent);
  // Consent is a new interaction, with its own uid and token.
  const confirm = new URL(`${consent.url.pathname}/confirm`, server.issuer);
  await keep('CSRF refusal', await submitForm(jar, confirm, { csrf: 'forged' }));
  const allowed = await submitForm(jar, confirm, { csrf: csrfToken(consent.html) });
  const callback = await openPage(jar, expectRedirect(allowed));
  const tokens = await oidc.authorizationCodeGrant(configuration, callback.url, { pkceCodeVerifier: request.verifier, expectedState: request.state });

  await keep('expired interaction', await openPage(jar, new URL('/interaction/no-such-interaction', server.issuer)));
  const wrongRedirect = authorizationRequest(server.issuer, { client_id: clientId, redirect_uri: 'http://localhost:8080/elsewhere' });
  await keep('engine error', await openPage(jar, wrongRedirect.url));
  const formPost = authorizationRequest(server.issuer, { client_id: clientId, redirect_uri: REDIRECT, scope: 'openid email', response_mode: 'form_post' });
  const posted = await openPage(jar, formPost.url);
  await keep('form_post response', posted);

  const confirmLogout = new URL('/session/end', server.issuer);
  confirmLogout.search = new URLSearchParams({ client_id: clientId, post_logout_redirect_uri: LOGOUT_REDIRECT }).toString();
  await keep('logout confirmation', await openPage(jar, confirmLogout));
  const provenLogout = new URL('/session/end', server.issuer);
  provenLogout.search = new URLSearchParams({ id_token_hint: tokens.id_token!, post_logout_redirect_uri: LOGOUT_REDIRECT }).toString();
  await keep('logout proven by id_token_hint', await openPage(jar, provenLogout));
  await keep('signed out', await openPage(jar, new URL('/session/end/success', server.issuer)));
});

after(async () => {
  await server?.close();
});

function directives(response: Response): Map<string, string[]> {
  const policy = response.headers.get('content-security-policy') ?? '';
  return new Map(
    policy
      .split(';')
      .map((part) => part.trim().split(/\s+/))
      .filter(([name]) => name)
      .map(([name, ...values]) => [name!, values]),
  );
}

describe('every page', () => {
  test('all the pages were reached, with the statuses a person would see', () => {
    const statuses = Object.fromEntries(PAGE_NAMES.map((name) => [name, pages.get(name)?.response.status]));
    assert.deepEqual(statuses, {
      login: 200,
      'login with an error': 401,
      consent: 200,
      'CSRF refusal': 403,
      'unsupported media type': 415,
      'body too large': 413,
      'expired interaction': 400,
      'engine error': 400,
      'form_post response': 200,
      'logout confirmation': 200,
      'logout proven by id_token_hint': 200,
      'signed out': 200,
    });
  });

  for (const name of PAGE_NAMES) {
    describe(name, () => {
      test('is HTML that is never stored', () => {
        const { response } = pages.get(name)!;
        assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
        assert.equal(response.headers.get('cache-control'), 'no-store');
      });

      test("sends a nonce-based CSP: default-src 'self', no inline code, no framing, no plugins", () => {
        const csp = directives(pages.get(name)!.response);
        assert.deepEqual(csp.get('default-src'), ["'self'"]);
        assert.deepEqual(csp.get('frame-ancestors'), ["'none'"]);
        assert.deepEqual(csp.get('object-src'), ["'none'"]);
        assert.deepEqual(csp.get('base-uri'), ["'none'"]);
        assert.deepEqual(csp.get('script-src-attr'), ["'none'"]);
        for (const directive of ['script-src', 'style-src']) {
          const values = csp.get(directive) ?? [];
          assert.ok(values.some((value) => /^'nonce-[A-Za-z0-9+/=]{16,}'$/.test(value)), `${directive}: ${values.join(' ')}`);
          assert.ok(!values.includes("'unsafe-inline'") && !values.includes("'unsafe-eval'"), `${directive}: ${values.join(' ')}`);
        }
        assert.ok(csp.get('form-action')?.includes("'self'"));
      });

      test('forbids framing, sniffing and referrers; no HSTS for an http issuer', () => {
        const { headers } = pages.get(name)!.response;
        assert.equal(headers.get('x-frame-options'), 'DENY');
        assert.equal(headers.get('x-content-type-options'), 'nosniff');
        assert.equal(headers.get('referrer-policy'), 'no-referrer');
        assert.equal(headers.get('strict-transport-security'), null);
      });

      test('loads nothing inline: every script and stylesheet is ours and carries the nonce', () => {
        const { response, html } = pages.get(name)!;
        if (name === 'form_post response') return; // the engine's auto-submit script, admitted by its sha256 (below)
        const nonce = /'nonce-([^']+)'/.exec(response.headers.get('content-security-policy') ?? '')?.[1];
        assert.doesNotMatch(html, /<style/i);
        assert.doesNotMatch(html, /\sstyle=/i);
        assert.doesNotMatch(html, /\son[a-z]+=/i);
        for (const tag of html.match(/<(script|link)\b[^>]*>/gi) ?? []) {
          assert.match(tag, /(src|href)="\/assets\//, tag);
          // Scripts need the nonce; the stylesheet is admitted by 'self' and may carry it.
          if (tag.startsWith('<script') || tag.includes('nonce=')) assert.ok(tag.includes(`nonce="${nonce}"`), tag);
        }
      });
    });
  }

  test('each response has its own nonce', () => {
    const nonces = PAGE_NAMES.map((name) => /'nonce-([^']+)'/.exec(pages.get(name)!.response.headers.get('content-security-policy') ?? '')?.[1]);
    assert.equal(new Set(nonces).size, PAGE_NAMES.length);
  });

  test('the pages of a client may send their forms on to its registered URIs, and nowhere else', () => {
    for (const name of ['login', 'consent', 'form_post response', 'logout confirmation'] as const) {
      const formAction = directives(pages.get(name)!.response).get('form-action');
      assert.deepEqual(formAction, ["'self'", 'http://localhost:*'], name);
    }
    assert.deepEqual(directives(pages.get('signed out')!.response).get('form-action'), ["'self'"]);
  });

  test("the engine's form_post page runs only its own script, admitted by hash", () => {
    const { response, html } = pages.get('form_post response')!;
    const scriptSrc = directives(response).get('script-src') ?? [];
    assert.ok(scriptSrc.some((value) => value.startsWith("'sha256-")), scriptSrc.join(' '));
    assert.match(html, /<form method="post" action="http:\/\/localhost:8080\/callback">/);
  });

  test('a logout proven by id_token_hint submits itself with our script, not an inline one', () => {
    const { html } = pages.get('logout proven by id_token_hint')!;
    assert.match(html, /<script src="\/assets\/auto-submit\.js" nonce="[^"]+" defer><\/script>/);
    assert.match(html, /data-auto-submit/);
    assert.doesNotMatch(pages.get('logout confirmation')!.html, /auto-submit/);
  });

  test('cookies set on the way are HttpOnly and SameSite=Lax (and not Secure over plain http)', () => {
    assert.ok(cookies.length >= 6, cookies.join('\n'));
    for (const cookie of cookies) {
      assert.match(cookie, /;\s*httponly/i, cookie);
      assert.match(cookie, /;\s*samesite=lax/i, cookie);
      assert.doesNotMatch(cookie, /;\s*secure/i, cookie);
    }
  });
});

describe('assets and APIs', () => {
  test('the stylesheet and script are served from our origin with their types and nosniff', async () => {
    for (const [path, type] of [
      ['/assets/portcullis.css', /^text\/css/],
      ['/assets/auto-submit.js', /^text\/javascript/],
    ] as const) {
      const response = await fetch(new URL(path, server.issuer));
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', type);
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
    }
  });

  test('JSON endpoints get the same headers and keep their own caching', async () => {
    const response = await fetch(new URL('/.well-known/openid-configuration', server.issuer));
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
    assert.match(response.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
    assert.notEqual(response.headers.get('cache-control'), 'no-store');
  });
});
