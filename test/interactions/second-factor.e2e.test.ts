import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import * as oidc from 'openid-client';
import { Secret, TOTP } from 'otpauth';
import type { Browser, Page } from 'playwright-core';

import { checkAccessibility } from '../helpers/axe.ts';
import { launchChromium, newPerson, startClientApp, type ClientApp, type CspViolation } from '../helpers/browser.ts';
import { mailedCode } from '../helpers/second-factor-pages.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// Setting up two-step verification as a person does it, in a real Chromium, with
// MFA=required: the password, the code mailed to the person (a wrong one, then theirs), the QR code page (its key typed into a TOTP generator here),
// a wrong then a right code, the recovery codes shown once, on to the app; then a second
// sign-in asks for a code. Every page passes axe-core (WCAG 2.2 AA) in light and dark, and
// none trips its own CSP (the QR code is inline SVG, no inline script or style).

const PASSWORD = 'a long and unguessable password';

let now = Date.parse('2026-12-05T12:00:10Z');
let server: TestServer;
let sink: SmtpSink;
let app: ClientApp;
let browser: Browser;
let client: oidc.Configuration;
const violations: CspViolation[] = [];
const failures: string[] = [];

before(async () => {
  sink = await startSmtpSink();
  [server, app, browser] = await Promise.all([startTestServer({ MFA: 'required', SMTP_URL: sink.url }, { clock: () => now }), startClientApp(), launchChromium()]);
  const created = await server.services.clients.create({ type: 'web', name: 'Example App', redirectUris: [`${app.origin}/callback`], scopes: ['openid', 'email'] });
  client = await oidc.discovery(new URL(server.issuer), created.client.clientId, undefined, oidc.ClientSecretBasic(created.clientSecret), { execute: [oidc.allowInsecureRequests] });
});

after(async () => {
  await browser?.close();
  await app?.close();
  await server?.close();
  await sink?.close();
});

const checkPage = (page: Page, name: string) => checkAccessibility(page, name, failures);

async function authorizationUrl(): Promise<string> {
  return oidc.buildAuthorizationUrl(client, {
    redirect_uri: `${app.origin}/callback`,
    scope: 'openid email',
    code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
    state: oidc.randomState(),
  }).href;
}

test('a person sets up an authenticator during sign-in, keeps the recovery codes, and is asked for a code the next time', async () => {
  const email = 'katherine@example.com';
  await server.services.accounts.create({ email, name: 'Katherine Johnson', password: PASSWORD });
  const first = await newPerson(browser, { violations });
  await first.page.goto(await authorizationUrl());
  await first.page.getByLabel('Email').fill(email);
  await first.page.getByLabel('Password').fill(PASSWORD);
  await first.page.getByRole('button', { name: 'Sign in' }).click();
  await first.page.getByRole('heading', { level: 1, name: 'Check your email' }).waitFor();
  await checkPage(first.page, 'mailed code');
  await first.page.getByLabel('Code from the email').fill('00000 00000');
  await first.page.getByRole('button', { name: 'Verify' }).click();
  await first.page.getByRole('alert').waitFor();
  await checkPage(first.page, 'mailed code refused');
  await first.page.getByLabel('Code from the email').fill(await mailedCode(server, sink, email));
  await first.page.getByRole('button', { name: 'Verify' }).click();
  await first.page.getByRole('heading', { level: 1, name: 'Set up two-step verification' }).waitFor();
  await first.page.getByRole('img', { name: 'QR code for your authenticator app' }).waitFor();
  await checkPage(first.page, 'enrolment');

  const key = ((await first.page.locator('#totp-key').textContent()) ?? '').replaceAll(' ', '');
  assert.equal(key.length, 32);
  const code = (steps = 0) => TOTP.generate({ secret: Secret.fromBase32(key), timestamp: now + steps * 30_000 });
  await first.page.getByLabel('Verification code').fill(code(4));
  await first.page.getByRole('button', { name: 'Confirm' }).click();
  await first.page.getByRole('alert').waitFor();
  await checkPage(first.page, 'enrolment refused');

  await first.page.getByLabel('Verification code').fill(code());
  await first.page.getByRole('button', { name: 'Confirm' }).click();
  await first.page.getByRole('heading', { level: 1, name: 'Save your recovery codes' }).waitFor();
  assert.equal(await first.page.locator('.recovery-codes li').count(), 10);
  await checkPage(first.page, 'recovery codes');
  await first.page.getByRole('button', { name: 'I saved them, continue' }).click();
  await first.page.getByRole('button', { name: 'Allow' }).click();
  await first.page.waitForURL((arrived) => arrived.origin === app.origin);
  assert.ok(new URL(first.page.url()).searchParams.get('code'), 'the app received a code');
  await first.context.close();

  now += 30_000;
  const second = await newPerson(browser, { violations });
  await second.page.goto(await authorizationUrl());
  await second.page.getByLabel('Email').fill(email);
  await second.page.getByLabel('Password').fill(PASSWORD);
  await second.page.getByRole('button', { name: 'Sign in' }).click();
  await second.page.getByRole('heading', { level: 1, name: 'Enter your verification code' }).waitFor();
  await checkPage(second.page, 'code');
  await second.page.getByLabel('Verification code').fill(code());
  await second.page.getByRole('button', { name: 'Verify' }).click();
  await second.page.waitForURL((arrived) => arrived.origin === app.origin);
  assert.ok(new URL(second.page.url()).searchParams.get('code'), 'the app received a code');
  await second.context.close();

  assert.deepEqual(failures, []);
  assert.deepEqual(violations, []);
});
