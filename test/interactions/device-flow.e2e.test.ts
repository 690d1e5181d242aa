import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import * as oidc from 'openid-client';
import type { Browser } from 'playwright-core';

import { launchChromium, newPerson, type CspViolation } from '../helpers/browser.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// The device flow (RFC 8628) end to end: openid-client, as a TV or a command-line tool,
// starts a device authorization and polls, while a person in a real Chromium types the
// user code at /device in lower case without its dash, signs in and approves; the device
// gets its tokens. The pages never trip their own CSP.

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const PASSWORD = 'a long and correct password for the tv';

let server: TestServer;
let browser: Browser;
let tv: oidc.Configuration;

before(async () => {
  [server, browser] = await Promise.all([
    startTestServer({ DEVICE_FLOW: 'true' }, {
      declare: {
        clients: [{ clientId: 'tv-box', type: 'native', name: 'Living Room TV', grantTypes: [DEVICE_GRANT], scopes: ['openid', 'email'] }],
        users: [{ email: 'ada@example.com', name: 'Ada Lovelace', password: PASSWORD }],
      },
    }),
    launchChromium(),
  ]);
  tv = await oidc.discovery(new URL(server.issuer), 'tv-box', undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

test('a device polls while a person types its code in lower case without the dash, signs in and approves', async () => {
  const violations: CspViolation[] = [];
  const { page } = await newPerson(browser, { violations });
  const authorization = await oidc.initiateDeviceAuthorization(tv, { scope: 'openid email' });
  const polling = oidc.pollDeviceAuthorizationGrant(tv, authorization);

  await page.goto(authorization.verification_uri);
  await page.getByRole('heading', { level: 1, name: 'Connect a device' }).waitFor();
  await page.getByLabel('Code').fill(authorization.user_code.replace('-', '').toLowerCase());
  await page.getByRole('button', { name: 'Continue' }).click();

  // The confirmation shows the code as the device does, and whose device it is.
  await page.getByRole('heading', { level: 1, name: 'Connect Living Room TV?' }).waitFor();
  assert.equal(await page.locator('.user-code').innerText(), authorization.user_code);
  await page.getByRole('button', { name: 'Continue' }).click();

  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await page.getByLabel('Email').fill('ada@example.com');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();

  await page.getByRole('heading', { level: 1, name: /wants to access your account/ }).waitFor();
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.getByRole('heading', { level: 1, name: 'Device connected' }).waitFor();

  const tokens = await polling;
  assert.ok(tokens.access_token);
  assert.equal(tokens.claims()?.sub, server.declared.accountId('ada@example.com'));
  assert.deepEqual(violations, []);
});

test('a wrong code is refused with the error linked to the field, and the field keeps its label', async () => {
  const { page } = await newPerson(browser);
  await page.goto(`${server.issuer}/device`);
  await page.getByLabel('Code').fill('bcdf-ghjk');
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByRole('alert').filter({ hasText: 'That code is not valid' }).waitFor();
  const field = page.getByLabel('Code');
  assert.equal(await field.getAttribute('aria-invalid'), 'true');
  assert.match((await field.getAttribute('aria-describedby')) ?? '', /device-error/);
  assert.equal(await field.inputValue(), '');
});

test('the complete verification URI (code in the link) fills in the code for the person to check and submit, within the CSP', async () => {
  const violations: CspViolation[] = [];
  const { page } = await newPerson(browser, { violations });
  const authorization = await oidc.initiateDeviceAuthorization(tv, { scope: 'openid' });
  assert.ok(authorization.verification_uri_complete);
  await page.goto(authorization.verification_uri_complete);
  await page.getByText('Check that this is the code shown on your device').waitFor();
  assert.equal(await page.getByLabel('Code').inputValue(), authorization.user_code);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByRole('heading', { level: 1, name: 'Connect Living Room TV?' }).waitFor();
  assert.equal(await page.locator('.user-code').innerText(), authorization.user_code);
  await page.getByRole('button', { name: 'Cancel' }).click();
  await page.getByRole('heading', { level: 1, name: 'Device not connected' }).waitFor();
  await assert.rejects(oidc.pollDeviceAuthorizationGrant(tv, authorization), (error: oidc.ResponseBodyError) => error.error === 'access_denied');
  assert.deepEqual(violations, []);
});
