import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';

import type { AxeResults } from 'axe-core';
import * as oidc from 'openid-client';
import type { Browser, Page } from 'playwright-core';

import { launchChromium, newPerson, startClientApp, type ClientApp, type CspViolation } from '../helpers/browser.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// Every page a person can meet, in a real Chromium, checked with axe-core against WCAG 2.2
// AA in the light and the dark color scheme: zero violations. The pages' CSP forbids inline
// script, so axe is not added as a <script>: its source is evaluated through the DevTools
// protocol (page.evaluate), which the page's CSP does not govern. Along the way: the
// lockout page (when to try again, the form again, Back never re-sends the password), the
// consent page of a returning person, and a page in German.

const PASSWORD = 'a long and correct password';
const API = 'https://api.example.com';
const HOME = 'https://app.example.com/';
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const WCAG_22_AA = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];
// What runs in the page is written as expressions (the test compiles without the DOM library).
const SETTLE = 'Promise.all(document.getAnimations().map((animation) => animation.finished)).then(() => true)';
const RUN_AXE = `axe.run(document, { runOnly: { type: 'tag', values: ${JSON.stringify(WCAG_22_AA)} } })`;
const INPUT_COLOURS = `[...document.querySelectorAll('input:not([type=hidden])')].map((input) => ({
  border: getComputedStyle(input).borderTopColor,
  field: getComputedStyle(input).backgroundColor,
  card: getComputedStyle(input.closest('.card')).backgroundColor,
}))`;

let server: TestServer;
let app: ClientApp;
let browser: Browser;
let client: oidc.Configuration;
const violations: CspViolation[] = [];
const checked = new Set<string>();
const failures: string[] = [];

before(async () => {
  // One free failure, then waits: a lockout is reached in two or three wrong passwords.
  [server, app, browser] = await Promise.all([startTestServer({ AUTH_THROTTLE_FREE_FAILURES: '1', AUTH_THROTTLE_BLOCK_AFTER: '3' }), startClientApp(), launchChromium()]);
  const { clients, resources } = server.services;
  await resources.create({ indicator: API, name: 'Example API', scopes: [{ name: 'read', description: 'Read your documents' }] });
  const created = await clients.create({
    type: 'web',
    name: 'Example App',
    clientUri: HOME,
    redirectUris: [`${app.origin}/callback`],
    postLogoutRedirectUris: [`${app.origin}/signed-out`],
    resources: [API],
    scopes: ['openid', 'email', 'profile', 'offline_access', 'read'],
  });
  client = await oidc.discovery(new URL(server.issuer), created.client.clientId, undefined, oidc.ClientSecretBasic(created.clientSecret), {
    execute: [oidc.allowInsecureRequests],
  });
});

after(async () => {
  await browser?.close();
  await app?.close();
  await server?.close();
});

async function authorizationUrl(extra: Record<string, string> = {}): Promise<string> {
  const verifier = oidc.randomPKCECodeVerifier();
  return oidc.buildAuthorizationUrl(client, {
    redirect_uri: `${app.origin}/callback`,
    scope: 'openid email profile',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state: oidc.randomState(),
    ...extra,
  }).href;
}

async function newAccount(): Promise<string> {
  const email = `ada.${Math.random().toString(36).slice(2, 10)}@example.com`;
  await server.services.accounts.create({ email, name: 'Ada Lovelace', password: PASSWORD, emailVerified: true });
  return email;
}

/** axe-core on the page as it is, in light and in dark; violations are collected by page. */
async function checkPage(page: Page, name: string): Promise<void> {
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme });
    // The buttons' colours fade (a CSS transition); check the colours the scheme settles on.
    await page.evaluate(SETTLE);
    if (!(await page.evaluate<boolean>("'axe' in window"))) await page.evaluate(AXE_SOURCE);
    const results = await page.evaluate<AxeResults>(RUN_AXE);
    for (const violation of results.violations) {
      failures.push(`${name} (${colorScheme}): ${violation.id}: ${violation.help} at ${violation.nodes.map((node) => `${node.target.join(' ')} (${node.failureSummary ?? ''})`).join(', ')}`);
    }
    checked.add(`${name} (${colorScheme})`);
  }
  await page.emulateMedia({ colorScheme: 'light' });
}

/** WCAG's contrast ratio of two `rgb(r, g, b)` colours. */
function contrast(a: string, b: string): number {
  const luminance = (color: string) => {
    const [r, g, bl] = (color.match(/\d+(\.\d+)?/g) ?? []).slice(0, 3).map((part) => {
      const c = Number(part) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r! + 0.7152 * g! + 0.0722 * bl!;
  };
  const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (light! + 0.05) / (dark! + 0.05);
}

/**
 * axe-core checks text; the boundary of a form field is a non-text contrast (1.4.11, 3:1)
 * it does not compute, so it is measured here: each input's border against the field and
 * against the card around it.
 */
async function checkInputBorders(page: Page, name: string): Promise<void> {
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme });
    await page.evaluate(SETTLE);
    const colours = await page.evaluate<{ border: string; field: string; card: string }[]>(INPUT_COLOURS);
    assert.ok(colours.length > 0, `${name}: inputs found`);
    for (const { border, field, card } of colours) {
      assert.ok(contrast(border, field) >= 3, `${name} (${colorScheme}): border ${border} on field ${field}: ${contrast(border, field).toFixed(2)}:1`);
      assert.ok(contrast(border, card) >= 3, `${name} (${colorScheme}): border ${border} on card ${card}: ${contrast(border, card).toFixed(2)}:1`);
    }
  }
  await page.emulateMedia({ colorScheme: 'light' });
}

async function signIn(page: Page, email: string, password: string): Promise<void> {
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

describe('locked out, with a way back', () => {
  test('the lockout page says when to try again, offers the form, and Back or reload never send the password again', async () => {
    const { page, context } = await newPerson(browser, { violations });
    const email = await newAccount();
    const posts: string[] = [];
    page.on('request', (request) => {
      if (request.method() === 'POST') posts.push(request.url());
    });
    await page.goto(await authorizationUrl());
    await checkPage(page, 'login');
    await checkInputBorders(page, 'login');

    const alert = page.getByRole('alert');
    let locked = false;
    for (let attempt = 0; attempt < 6 && !locked; attempt++) {
      await signIn(page, email, `wrong ${attempt}`);
      await alert.waitFor();
      const text = (await alert.textContent()) ?? '';
      if (attempt === 0) {
        assert.match(text, /Email or password is incorrect\./);
        await checkPage(page, 'login with an error');
      }
      locked = /Too many failed sign-ins/.test(text);
    }
    assert.ok(locked, 'the throttle refused an attempt');
    const message = ((await alert.textContent()) ?? '').trim();
    assert.match(message, /^Too many failed sign-ins(?: for this account from this browser)?\. You can try again at \d\d:\d\d UTC \(in \d+ (?:second|seconds|minutes)\)\.$/);
    // The form again, the email kept, on the interaction's own URL reached by a GET.
    assert.equal(await page.getByLabel('Email').inputValue(), email);
    assert.equal(await page.getByLabel('Password').inputValue(), '');
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    assert.match(new URL(page.url()).pathname, /^\/interaction\/[^/]+$/);
    await checkPage(page, 'lockout');

    const postsBefore = posts.length;
    await page.goBack();
    await page.getByLabel('Password').waitFor();
    await page.reload();
    await page.getByLabel('Password').waitFor();
    assert.equal(posts.length, postsBefore, `Back and reload sent no POST: ${posts.slice(postsBefore).join(', ')}`);
    assert.equal(await page.getByRole('alert').count(), 0, 'the outcome is shown once');
    await context.close();
  });
});

describe('every page passes axe-core (WCAG 2.2 AA), light and dark', () => {
  test('consent, the consent of a returning person, signed-out and logout pages', async () => {
    const { page, context } = await newPerson(browser, { violations });
    const email = await newAccount();
    await page.goto(await authorizationUrl({ scope: 'openid email read', resource: API }));
    await signIn(page, email, PASSWORD);
    await page.getByRole('heading', { level: 1, name: /wants to access your account/ }).waitFor();
    await checkPage(page, 'consent');
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL((url) => url.origin === app.origin);

    // Asked again: what the app will get, what was allowed before marked as such.
    await page.goto(await authorizationUrl({ scope: 'openid email profile read', resource: API, prompt: 'consent' }));
    await page.getByRole('heading', { level: 1, name: /wants to access your account/ }).waitFor();
    const allowed = page.locator('li.allowed');
    assert.deepEqual((await allowed.locator('code').allTextContents()).sort(), ['email', 'read']);
    assert.equal(await allowed.getByText('Already allowed').count(), 2);
    assert.equal(await page.locator('li:not(.allowed) code').allTextContents().then((names) => names.join()), 'profile');
    await checkPage(page, 'consent, asked again');
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL((url) => url.origin === app.origin);

    await page.goto(new URL('/session/end', server.issuer).href);
    await page.getByRole('heading', { name: 'Sign out?' }).waitFor();
    await checkPage(page, 'logout');
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.getByRole('heading', { name: 'You have signed out' }).waitFor();
    await checkPage(page, 'signed out');
    await context.close();
  });

  test('landing, not found, an error page with its way back, an expired sign-in', async () => {
    const { page, context } = await newPerson(browser, { violations });
    await page.goto(server.issuer);
    await page.getByRole('heading', { name: 'This is a sign-in service' }).waitFor();
    await checkPage(page, 'landing');

    const missing = await page.goto(new URL('/no/such/page', server.issuer).href);
    assert.equal(missing?.status(), 404);
    await page.getByRole('heading', { name: 'Page not found' }).waitFor();
    await checkPage(page, 'not found');

    await page.goto((await authorizationUrl()).replace(encodeURIComponent(`${app.origin}/callback`), encodeURIComponent('http://evil.example/x')));
    await page.getByRole('heading', { name: 'This application is not allowed to redirect here' }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'Back to Example App' }).getAttribute('href'), HOME);
    await checkPage(page, 'error');

    await page.goto(new URL('/interaction/gone', server.issuer).href);
    await page.getByRole('heading', { name: 'This sign-in has expired' }).waitFor();
    await checkPage(page, 'expired');
    await context.close();
  });

  test('a German browser gets the pages in German', async () => {
    const { page, context } = await newPerson(browser, { violations, context: { locale: 'de-DE' } });
    const email = await newAccount();
    await page.goto(await authorizationUrl());
    await page.getByRole('heading', { level: 1, name: 'Anmelden' }).waitFor();
    assert.equal(await page.locator('html').getAttribute('lang'), 'de');
    await page.getByLabel('Passwort').waitFor();
    await checkPage(page, 'login (de)');
    await page.getByLabel('E-Mail').fill(email);
    await page.getByLabel('Passwort').fill(PASSWORD);
    await page.getByRole('button', { name: 'Anmelden' }).click();
    await page.getByRole('heading', { level: 1, name: 'Example App möchte auf Ihr Konto zugreifen' }).waitFor();
    await page.getByText('Ihre E-Mail-Adresse sehen').waitFor();
    await checkPage(page, 'consent (de)');
    await context.close();
  });

  test('no page had a violation, and none tripped its own CSP', () => {
    assert.ok(checked.size >= 24, `checked: ${[...checked].join(', ')}`);
    assert.deepEqual(failures, []);
    assert.deepEqual(violations, []);
  });
});
