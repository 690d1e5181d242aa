import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';

import { Secret, TOTP } from 'otpauth';
import type { Browser, Page } from 'playwright-core';

import { checkAccessibility } from '../helpers/axe.ts';
import { launchChromium, newPerson, type CspViolation } from '../helpers/browser.ts';
import { loggedAddressLink, loggedMailCode } from '../helpers/account-page.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// The account page as a person uses it, in a real Chromium: /account signs in through the
// login page and comes back; the name saved, a wrong then a right current password, another
// browser signed out from here, a new address confirmed by its link, sign out. Every state
// of the page passes axe-core (WCAG 2.2 AA) in light and dark, at a phone's width too, and
// none trips the page's CSP.

const PASSWORD = 'harbour-lantern-quartz-58';
const NEW_PASSWORD = 'meadow-copper-violin-73';

let server: TestServer;
let browser: Browser;
const violations: CspViolation[] = [];
const failures: string[] = [];

before(async () => {
  [server, browser] = await Promise.all([startTestServer({}), launchChromium()]);
  await server.services.accounts.create({ email: 'grace@example.com', name: 'Grace Hopper', password: PASSWORD });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

const checkPage = (page: Page, name: string) => checkAccessibility(page, name, failures);

async function signIn(page: Page, password = PASSWORD): Promise<void> {
  await page.goto(`${server.issuer}/account`);
  await page.getByLabel('Email').fill('grace@example.com');
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Your account' }).waitFor();
}

test('a link to the page from another site, in a browser signed in to Portcullis but not to the page, lands on the page', async () => {
  // An app's "your account" link: the whole chain of redirects is cross-site, so the page's
  // session cookie must come back with it (SameSite=Lax), or the sign-in starts again forever.
  const { page, context } = await newPerson(browser, { violations });
  await signIn(page);
  await context.clearCookies({ name: 'portcullis.account' });
  // The link on a page of another site (localhost is not 127.0.0.1's site).
  const site = createServer((_request, response) => {
    response.setHeader('content-type', 'text/html');
    response.end(`<!doctype html><title>App</title><a href="${server.issuer}/account">Your account</a>`);
  });
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  try {
    await page.goto(`http://localhost:${(site.address() as AddressInfo).port}/`);
    await page.getByRole('link', { name: 'Your account' }).click();
    await page.getByRole('heading', { level: 1, name: 'Your account' }).waitFor({ timeout: 10_000 });
    assert.equal(new URL(page.url()).pathname, '/account');
  } finally {
    site.close();
    await context.close();
  }
});

test('a person signs in to their account page, changes their name, password and address, and signs another browser out', async () => {
  const elsewhere = await newPerson(browser, { violations });
  await signIn(elsewhere.page);

  const { page, context } = await newPerson(browser, { violations });
  await signIn(page);
  assert.equal(new URL(page.url()).pathname, '/account');
  await checkPage(page, 'account');

  await page.getByLabel('Name').fill('Grace Brewster Hopper');
  await page.getByRole('button', { name: 'Save name' }).click();
  await page.getByRole('status').waitFor();
  assert.match((await page.getByRole('status').textContent()) ?? '', /Your name was saved/);
  assert.equal((await server.services.accounts.findByIdOrEmail('grace@example.com'))?.name, 'Grace Brewster Hopper');

  await page.locator('#current').fill('not the password');
  await page.getByLabel('New password').fill(NEW_PASSWORD);
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.getByRole('alert').waitFor();
  assert.match((await page.getByRole('alert').textContent()) ?? '', /not your current password/);
  await checkPage(page, 'account, password refused');

  await page.locator('#current').fill(PASSWORD);
  await page.getByLabel('New password').fill(NEW_PASSWORD);
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.getByRole('status').waitFor();
  assert.match((await page.getByRole('status').textContent()) ?? '', /Every other device and app was signed out/);
  assert.ok((await server.services.accounts.authenticate('grace@example.com', NEW_PASSWORD)).ok);

  // The other browser was signed out by the change: its page asks for a sign-in again.
  await elsewhere.page.goto(`${server.issuer}/account`);
  await elsewhere.page.getByRole('button', { name: 'Sign in' }).waitFor();
  await elsewhere.context.close();

  // A phone's width: the page still reads and nothing needs scrolling sideways.
  await page.setViewportSize({ width: 375, height: 740 });
  assert.equal(await page.evaluate<boolean>('document.documentElement.scrollWidth <= window.innerWidth'), true, 'no horizontal scrolling at 375 px');
  await checkPage(page, 'account, phone');

  // A new address: the link (in the log: development without SMTP_URL), its page, the change.
  await page.setViewportSize({ width: 1280, height: 860 });
  await page.getByLabel('New email address').fill('grace.hopper@example.net');
  await page.locator('#email-current').fill(NEW_PASSWORD);
  await page.getByRole('button', { name: 'Change address' }).click();
  // First the code mailed to the current address (logged, as the link below).
  await page.getByRole('heading', { level: 1, name: 'Check your email' }).waitFor();
  await checkPage(page, 'code from the current address');
  const code = await loggedMailCode(server);
  assert.ok(code, 'the code was logged');
  await page.getByLabel('Code from the email').fill(code);
  await page.getByRole('button', { name: 'Confirm' }).click();
  await page.getByRole('status').waitFor();
  const link = await loggedAddressLink(server);
  assert.ok(link, 'the link was logged');
  await page.goto(link);
  await page.getByRole('heading', { level: 1, name: 'Confirm your new address' }).waitFor();
  await checkPage(page, 'confirm new address');
  await page.getByRole('button', { name: 'Use this address' }).click();
  await page.getByRole('heading', { level: 1, name: 'Address changed' }).waitFor();
  await checkPage(page, 'address changed');
  assert.equal((await server.services.accounts.findByIdOrEmail('grace.hopper@example.net'))?.emailVerified, true);
  await page.getByRole('link', { name: 'Go to your account' }).click();
  await page.getByRole('heading', { level: 1, name: 'Your account' }).waitFor();

  await page.getByRole('button', { name: 'Sign out', exact: true }).last().click();
  // The page's own session ended; the engine asks whether to end the browser's too.
  await page.getByRole('heading', { level: 1, name: 'Sign out?' }).waitFor();
  await checkPage(page, 'sign out');
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await page.waitForLoadState();
  await page.goto(`${server.issuer}/account`);
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
  assert.notEqual(new URL(page.url()).pathname, '/account', 'signed out of the page and of the browser session');
  await context.close();

  assert.deepEqual(failures, []);
  assert.deepEqual(violations, []);
});

test('a person sets up an authenticator app from their account page: mailed code, QR code, recovery codes', async () => {
  await server.services.accounts.create({ email: 'katherine@example.com', name: 'Katherine Johnson', password: PASSWORD });
  const { page, context } = await newPerson(browser, { violations });
  await page.goto(`${server.issuer}/account`);
  await page.getByLabel('Email').fill('katherine@example.com');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Your account' }).waitFor();

  await page.locator('#factor-current').fill(PASSWORD);
  await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
  await page.getByRole('heading', { level: 1, name: 'Check your email' }).waitFor();
  await checkPage(page, 'authenticator: mailed code');
  // Development without SMTP_URL logs the mail, code and all.
  const mailed = await loggedMailCode(server);
  assert.ok(mailed, 'the code was logged');
  await page.getByLabel('Code from the email').fill(mailed);
  await page.getByRole('button', { name: 'Confirm' }).click();
  await page.getByRole('heading', { level: 1, name: 'Set up two-step verification' }).waitFor();
  await checkPage(page, 'authenticator: scan');

  const key = ((await page.locator('#totp-key').textContent()) ?? '').replaceAll(' ', '');
  await page.getByLabel('Verification code').fill(TOTP.generate({ secret: Secret.fromBase32(key) }));
  await page.getByRole('button', { name: 'Confirm' }).click();
  await page.getByRole('heading', { level: 1, name: 'Save your recovery codes' }).waitFor();
  assert.equal(await page.locator('.recovery-codes li').count(), 10);
  await checkPage(page, 'authenticator: recovery codes');
  await page.getByRole('link', { name: 'Back to your account' }).click();
  await page.getByText('An authenticator app is set up').waitFor();
  await context.close();

  assert.deepEqual(failures, []);
  assert.deepEqual(violations, []);
});
