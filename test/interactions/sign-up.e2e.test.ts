import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import * as oidc from 'openid-client';
import type { Browser, Page } from 'playwright-core';

import { checkAccessibility } from '../helpers/axe.ts';
import { launchChromium, newPerson, startClientApp, type ClientApp, type CspViolation } from '../helpers/browser.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// Sign-up as a person does it, in a real Chromium (REGISTRATION=open): "Create an account"
// under the login form, the address, the link from the mail (a real SMTP server in the test
// process), a refused then an accepted password, and back into the same sign-in, which ends
// at the app. Every page on the way passes axe-core (WCAG 2.2 AA) in light and dark, and
// none trips its own CSP.

const PASSWORD = 'tulip-engine-cobalt-41';

let sink: SmtpSink;
let server: TestServer;
let app: ClientApp;
let browser: Browser;
let client: oidc.Configuration;
const violations: CspViolation[] = [];
const failures: string[] = [];

before(async () => {
  sink = await startSmtpSink();
  [server, app, browser] = await Promise.all([startTestServer({ SMTP_URL: sink.url, REGISTRATION: 'open' }), startClientApp(), launchChromium()]);
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

test('a newcomer makes an account from the mailed link and goes on to the app', async () => {
  const email = 'katherine@example.com';
  const { page, context } = await newPerson(browser, { violations });
  const url = oidc.buildAuthorizationUrl(client, {
    redirect_uri: `${app.origin}/callback`,
    scope: 'openid email',
    code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
    state: oidc.randomState(),
  });
  await page.goto(url.href);
  await page.getByRole('link', { name: 'Create an account' }).click();
  await page.getByRole('heading', { level: 1, name: 'Create an account' }).waitFor();
  await checkPage(page, 'sign-up');

  await page.getByLabel('Email').fill(email);
  await page.getByRole('button', { name: 'Send the link' }).click();
  await page.getByRole('heading', { level: 1, name: 'Check your email' }).waitFor();
  await checkPage(page, 'link sent');

  await server.resetRequests.idle();
  await server.mailer.idle();
  const link = /(http:\/\/\S+\/signup\/complete\?token=[A-Za-z0-9_-]+)/.exec(sink.to(email)[0]?.text ?? '')?.[1];
  assert.ok(link, 'the mail carries the link');
  await page.goto(link);
  await page.getByRole('heading', { level: 1, name: 'Finish making your account' }).waitFor();
  await checkPage(page, 'name and password');

  await page.getByLabel('Name').fill('Katherine Johnson');
  await page.getByLabel('Password').fill('password123');
  await page.getByRole('button', { name: 'Create the account' }).click();
  await page.getByRole('alert').waitFor();
  assert.match((await page.getByRole('alert').textContent()) ?? '', /too easy to guess/);
  await checkPage(page, 'password refused');

  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create the account' }).click();
  await page.getByRole('heading', { level: 1, name: 'Your account is ready' }).waitFor();
  await checkPage(page, 'account ready');

  await page.getByRole('link', { name: 'Continue signing in' }).click();
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.waitForURL((arrived) => arrived.origin === app.origin);
  assert.ok(new URL(page.url()).searchParams.get('code'), 'the app received a code');
  await context.close();

  const account = await server.services.accounts.findByIdOrEmail(email);
  assert.equal(account?.emailVerified, true);
  assert.deepEqual(failures, []);
  assert.deepEqual(violations, []);
});
