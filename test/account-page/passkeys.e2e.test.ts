import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import type { Browser, BrowserContext, Page } from 'playwright-core';

import { loggedMailCode } from '../helpers/account-page.ts';
import { checkAccessibility } from '../helpers/axe.ts';
import { addVirtualAuthenticator, launchChromium, newPerson, type CspViolation } from '../helpers/browser.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// Passkeys in a real Chromium with the DevTools protocol's virtual authenticator (a
// platform authenticator with resident keys and user verification, as a phone or laptop
// has): added on the account page (password, mailed code, the browser's ceremony, recovery
// codes once), then used as the second factor after the password, then alone
// (PASSKEY_SIGN_IN), then removed. Every page passes axe (WCAG 2.2 AA) and none trips the CSP.

const PASSWORD = 'lantern-harbour-quartz-85';
const EMAIL = 'ada@example.com';

let server: TestServer;
let browser: Browser;
const violations: CspViolation[] = [];
const failures: string[] = [];

before(async () => {
  // WebAuthn takes no IP address as RP ID: the issuer is http://localhost:port (a secure context).
  [server, browser] = await Promise.all([startTestServer({ PASSKEY_SIGN_IN: 'true' }, { issuerHost: 'localhost' }), launchChromium()]);
  await server.services.accounts.create({ email: EMAIL, name: 'Ada Lovelace', password: PASSWORD });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/** One person's browser with a virtual platform authenticator that answers at once. */
async function browserWithAuthenticator(): Promise<{ context: BrowserContext; page: Page }> {
  const { context, page } = await newPerson(browser, { violations });
  await addVirtualAuthenticator(context, page);
  return { context, page };
}

async function signInWithPassword(page: Page): Promise<void> {
  await page.goto(`${server.issuer}/account`);
  await page.getByLabel('Email').fill(EMAIL);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

/** Out of the page and of the browser's session (the engine asks to confirm the second). */
async function signOut(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Sign out', exact: true }).last().click();
  await page.getByRole('heading', { level: 1, name: 'Sign out?' }).waitFor();
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await page.waitForLoadState();
}

test('a passkey is added on the account page, then signs in as the second factor and alone, then is removed', async () => {
  const { context, page } = await browserWithAuthenticator();
  try {
    await signInWithPassword(page);
    await page.getByRole('heading', { level: 1, name: 'Your account' }).waitFor();

    // Add: a name and the current password, the code mailed to the account, the ceremony.
    await page.getByLabel('Name for the new passkey').fill('Laptop');
    await page.locator('#passkey-current').fill(PASSWORD);
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.getByRole('heading', { level: 1, name: 'Check your email' }).waitFor();
    const mailed = await loggedMailCode(server);
    assert.ok(mailed, 'the code was logged (development without SMTP_URL)');
    await page.getByLabel('Code from the email').fill(mailed);
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.getByRole('button', { name: 'Create passkey' }).waitFor();
    await checkAccessibility(page, 'account-passkey', failures);
    await page.getByRole('button', { name: 'Create passkey' }).click();
    // The first factor of the account: ten recovery codes, once.
    await page.getByRole('heading', { level: 1, name: 'Save your recovery codes' }).waitFor();
    assert.equal(await page.locator('.recovery-codes li').count(), 10);
    await page.getByRole('link', { name: 'Back to your account' }).click();
    await page.getByText('device-bound').waitFor();
    await checkAccessibility(page, 'account with a passkey', failures);
    const account = await server.services.accounts.get(EMAIL);
    const keys = await server.services.passkeys.list(account.id);
    assert.deepEqual(keys.map((key) => key.name), ['Laptop']);

    // Second factor: after the password, the passkey button (and the code form, for its recovery codes).
    await signOut(page);
    await signInWithPassword(page);
    await page.getByRole('button', { name: 'Use a passkey' }).waitFor();
    await checkAccessibility(page, 'second factor with a passkey', failures);
    await page.getByRole('button', { name: 'Use a passkey' }).click();
    await page.getByRole('heading', { level: 1, name: 'Your account' }).waitFor();
    const firstUse = await server.services.passkeys.list(account.id);
    assert.ok(firstUse[0]?.lastUsedAt, 'its use is recorded');

    // Alone: the login page's passkey button, no email, no password.
    await signOut(page);
    await page.goto(`${server.issuer}/account`);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).waitFor();
    await checkAccessibility(page, 'login with a passkey', failures);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await page.getByRole('heading', { level: 1, name: 'Your account' }).waitFor();

    // Remove: the current password, then the code mailed to the account.
    await page.locator('summary', { hasText: 'Remove Laptop' }).click();
    await page.locator('#remove-current-0').fill(PASSWORD);
    await page.locator('form[action="/account/passkeys/remove"] button[type="submit"]').click();
    await page.getByRole('heading', { level: 1, name: 'Check your email' }).waitFor();
    const removal = await loggedMailCode(server);
    assert.ok(removal);
    await page.getByLabel('Code from the email').fill(removal);
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.getByText('The passkey was removed.').waitFor();
    assert.deepEqual(await server.services.passkeys.list(account.id), []);
  } finally {
    await context.close();
  }
  assert.deepEqual(failures, [], 'axe');
  assert.deepEqual(violations, [], 'CSP');
});
