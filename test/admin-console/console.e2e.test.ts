import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';

import * as oidc from 'openid-client';
import type { Browser, Page } from 'playwright-core';

import { newAdminTestPerson, type AdminTestPerson } from '../helpers/admin-api-calls.ts';
import { checkAccessibility } from '../helpers/axe.ts';
import { launchChromium, newPerson, type CspViolation } from '../helpers/browser.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// The admin console (/admin) as an operator uses it, in a real Chromium: an admin signs in
// through Portcullis itself (password, then a recovery code as the second factor), registers
// a `web` client on the Clients page and copies its id and secret from the page that shows
// them once; that client then does a real authorization-code flow with PKCE (openid-client,
// the browser signing a person in and consenting, a callback server of the test's own). Every
// console page passes axe-core (WCAG 2.2 AA, light and dark) at a desktop's and a phone's
// width, scrolls sideways at neither (tables scroll in their own region), and none trips the
// CSP; the audit page's live tail shows an event that happens after it was pressed.

const PASSWORD = 'a long and correct password';
const API = 'https://api.console.example';
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 860 };

let server: TestServer;
let browser: Browser;
let admin: AdminTestPerson;
let callback: { server: Server; uri: string; codes: URL[] };
const violations: CspViolation[] = [];
const consoleErrors: string[] = [];
const failures: string[] = [];
const overflows: string[] = [];

/** The relying party's callback: records each URL the browser is sent to, answers a plain page. */
async function startCallbackServer() {
  const codes: URL[] = [];
  const callbackServer = createServer((request, response) => {
    const url = new URL(request.url ?? '/', `http://${request.headers.host ?? '127.0.0.1'}`);
    if (url.pathname === '/cb') codes.push(url);
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end('<!doctype html><title>Callback</title><h1>Signed in</h1>');
  });
  await new Promise<void>((resolve) => callbackServer.listen(0, '127.0.0.1', resolve));
  return { server: callbackServer, uri: `http://127.0.0.1:${(callbackServer.address() as AddressInfo).port}/cb`, codes };
}

before(async () => {
  [server, browser, callback] = await Promise.all([startTestServer({ ADMIN_API: 'true' }), launchChromium(), startCallbackServer()]);
  admin = await newAdminTestPerson(server, 'console-e2e', ['admin']);
  await server.services.resources.create({ indicator: API, name: 'Console API', scopes: [{ name: 'notes:read', description: 'Read your notes' }] });
  await server.services.accounts.create({ email: 'ada@example.com', name: 'Ada Lovelace', password: PASSWORD });
});

after(async () => {
  await browser?.close();
  callback?.server.closeAllConnections();
  await new Promise<void>((resolve) => (callback ? callback.server.close(() => resolve()) : resolve()));
  await server?.close();
});

/** A browser of its own, recording CSP violations (the console's and the `securitypolicyviolation` events) and console errors. */
async function openBrowser() {
  const person = await newPerson(browser, { violations, context: { viewport: DESKTOP } });
  // Chromium logs violations to the console itself; the event is reported too, in case.
  // (A string: the test compiles without the DOM library.)
  await person.context.addInitScript(
    "document.addEventListener('securitypolicyviolation', (event) => console.error('Content Security Policy violation: ' + event.violatedDirective + ' ' + event.blockedURI))",
  );
  person.page.on('console', (message) => {
    // The browser's own favicon request answers 404 on every page of the issuer: not the console's.
    if (message.type() === 'error' && !message.location().url.endsWith('/favicon.ico')) consoleErrors.push(`${person.page.url()}: ${message.text()} (${message.location().url})`);
  });
  person.page.on('pageerror', (error) => consoleErrors.push(`${person.page.url()}: ${error.message}`));
  return person;
}

async function signInToConsole(page: Page): Promise<void> {
  await page.goto(`${server.issuer}/admin`);
  await page.getByLabel('Email').fill(admin.email);
  await page.getByLabel('Password').fill(admin.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  const code = admin.recoveryCodes.shift();
  assert.ok(code, 'a recovery code left');
  await page.getByLabel('Verification code').fill(code);
  await page.getByRole('button', { name: 'Verify' }).click();
  await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
  assert.equal(new URL(page.url()).pathname, '/admin');
}

/** axe at a desktop's width and at a phone's, and no sideways scrolling of the document at the phone's. */
async function checkConsolePage(page: Page, name: string): Promise<void> {
  await checkAccessibility(page, name, failures);
  await page.setViewportSize(PHONE);
  const widths = await page.evaluate<{ scroll: number; inner: number }>('({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth })');
  if (widths.scroll > widths.inner) overflows.push(`${name}: the document is ${widths.scroll} px wide at ${widths.inner} px`);
  await checkAccessibility(page, `${name}, phone`, failures);
  await page.setViewportSize(DESKTOP);
}

test('an admin registers a web client at the console, and that client signs a person in with the code flow and PKCE', async () => {
  const { page, context } = await openBrowser();
  await signInToConsole(page);
  await checkConsolePage(page, 'overview');

  await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Clients' }).click();
  await page.getByRole('heading', { level: 1, name: 'Clients' }).waitFor();
  await checkConsolePage(page, 'clients');

  await page.locator('#type').selectOption('web');
  await page.getByLabel('Name', { exact: true }).fill('Console Notes');
  await page.getByLabel('Redirect URIs', { exact: true }).fill(callback.uri);
  await page.getByLabel('Scopes').fill('openid email profile');
  await page.getByRole('button', { name: 'Register the client' }).click();
  await page.getByRole('heading', { level: 1, name: 'Client registered' }).waitFor();
  const clientId = ((await page.locator('#client-id').textContent()) ?? '').trim();
  const clientSecret = ((await page.locator('#client-secret').textContent()) ?? '').trim();
  assert.ok(clientId.length > 0, 'the page shows the client id');
  assert.ok(clientSecret.length >= 32, 'the page shows the secret');
  await checkConsolePage(page, 'client secret');

  await page.getByRole('link', { name: 'Done' }).click();
  await page.getByRole('heading', { level: 1, name: 'Console Notes' }).waitFor();
  assert.equal(await page.getByText(clientSecret).count(), 0, 'the secret is shown once, not on the client page');
  await checkConsolePage(page, 'client detail');

  // The client the console registered, used by an app: openid-client with the secret copied.
  const app = await oidc.discovery(new URL(server.issuer), clientId, undefined, oidc.ClientSecretBasic(clientSecret), { execute: [oidc.allowInsecureRequests] });
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const authorization = oidc.buildAuthorizationUrl(app, {
    redirect_uri: callback.uri,
    scope: 'openid email',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
  });
  const person = await openBrowser();
  await person.page.goto(authorization.href);
  await person.page.getByLabel('Email').fill('ada@example.com');
  await person.page.getByLabel('Password').fill(PASSWORD);
  await person.page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await person.page.getByRole('button', { name: 'Allow' }).click();
  await person.page.waitForURL((url) => url.href.startsWith(callback.uri));
  await person.context.close();
  const arrived = callback.codes.at(-1);
  assert.ok(arrived, 'the browser came to the callback');
  assert.ok(arrived.searchParams.get('code'), `the callback got a code: ${arrived.href}`);
  const tokens = await oidc.authorizationCodeGrant(app, arrived, { pkceCodeVerifier: verifier, expectedState: state });
  const ada = await server.services.accounts.findByIdOrEmail('ada@example.com');
  assert.ok(ada);
  assert.equal(tokens.claims()?.sub, ada.id, 'the ID token names the person who signed in');
  assert.equal(tokens.claims()?.aud, clientId);
  assert.ok(tokens.access_token);

  await context.close();
  assert.deepEqual(failures, []);
  assert.deepEqual(overflows, []);
  assert.deepEqual(violations, []);
  assert.deepEqual(consoleErrors, []);
});

test('every other console page passes axe and fits a phone; the live tail shows a new event without a reload', async () => {
  const { page, context } = await openBrowser();
  await signInToConsole(page);
  const nav = page.getByRole('navigation', { name: 'Console' });

  await nav.getByRole('link', { name: 'Resource servers' }).click();
  await page.getByRole('heading', { level: 1, name: 'Resource servers' }).waitFor();
  await checkConsolePage(page, 'resources');
  await page.getByRole('link', { name: 'Console API' }).click();
  await page.getByRole('heading', { level: 1, name: 'Console API' }).waitFor();
  await checkConsolePage(page, 'resource detail');

  await nav.getByRole('link', { name: 'Users' }).click();
  await page.getByRole('heading', { level: 1, name: 'Users' }).waitFor();
  await checkConsolePage(page, 'users');
  await page.getByRole('link', { name: 'ada@example.com' }).click();
  await page.getByRole('heading', { level: 1, name: 'Ada Lovelace' }).waitFor();
  await checkConsolePage(page, 'user detail');
  // The admin's own page: a browser session (this one) and a grant, each row with its button.
  await page.goto(`${server.issuer}/admin/users/${admin.id}`);
  await page.getByRole('heading', { level: 2, name: 'Browser sessions' }).waitFor();
  await checkConsolePage(page, 'user detail, self');

  await nav.getByRole('link', { name: 'Keys' }).click();
  await page.getByRole('heading', { level: 1, name: 'Keys' }).waitFor();
  await checkConsolePage(page, 'keys');

  await nav.getByRole('link', { name: 'Audit trail' }).click();
  await page.getByRole('heading', { level: 1, name: 'Audit trail' }).waitFor();
  await checkConsolePage(page, 'audit');

  // The live tail: pressed, then a user is created elsewhere (as the CLI would, with an
  // actor); the row comes in with no reload (a marker set on this document survives).
  await page.evaluate('window.__sameDocument = true');
  const toggle = page.getByRole('button', { name: 'Live tail' });
  await toggle.click();
  assert.equal(await page.locator('#tail-toggle').getAttribute('aria-pressed'), 'true');
  await page.getByRole('status').filter({ hasText: 'Watching for new events' }).waitFor();
  const created = await server.services.accounts.create({ email: 'grace@example.com', name: 'Grace Hopper', password: PASSWORD }, { actor: admin.id });
  const row = page.locator('#events tbody tr', { hasText: created.id }).filter({ hasText: 'user.created' });
  await row.waitFor({ timeout: 15_000 });
  assert.equal(await page.evaluate<boolean>('window.__sameDocument === true'), true, 'the page was not reloaded');
  assert.equal(await row.locator('td').nth(2).textContent(), admin.id, 'the actor is shown');
  await checkConsolePage(page, 'audit, live tail');
  await toggle.click();
  assert.equal(await toggle.getAttribute('aria-pressed'), 'false', 'pressed again, the tail stops');

  await context.close();
  assert.deepEqual(failures, []);
  assert.deepEqual(overflows, []);
  assert.deepEqual(violations, []);
  assert.deepEqual(consoleErrors, []);
});
