import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import * as oidc from 'openid-client';
import type { Browser, Page } from 'playwright-core';

import { launchChromium, newPerson, startClientApp, type ClientApp, type CspViolation } from '../helpers/browser.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// A person in a real Chromium against a real Portcullis: sign in, consent, deny, SSO,
// logout, and a relying party (openid-client) that redeems what the browser brings back.

const PASSWORD = 'a long and correct password';
const API = 'https://api.example.com';

let server: TestServer;
let app: ClientApp;
let browser: Browser;
let first: oidc.Configuration;
let second: oidc.Configuration;
const violations: CspViolation[] = [];

before(async () => {
  [server, app, browser] = await Promise.all([startTestServer(), startClientApp(), launchChromium()]);
  const { clients, resources } = server.services;
  await resources.create({ indicator: API, name: 'Example API', scopes: [{ name: 'read', description: 'Read your documents' }] });
  const registration = {
    type: 'web',
    redirectUris: [`${app.origin}/callback`],
    postLogoutRedirectUris: [`${app.origin}/signed-out`],
    resources: [API],
    scopes: ['openid', 'email', 'profile', 'offline_access', 'read'],
  };
  const one = await clients.create({ ...registration, name: 'Example App' });
  const two = await clients.create({ ...registration, name: 'Second App' });
  const discover = (id: string, secret: string) =>
    oidc.discovery(new URL(server.issuer), id, undefined, oidc.ClientSecretBasic(secret), { execute: [oidc.allowInsecureRequests] });
  first = await discover(one.client.clientId, one.clientSecret!);
  second = await discover(two.client.clientId, two.clientSecret!);
});

after(async () => {
  await browser?.close();
  await app?.close();
  await server?.close();
});

interface Authorization {
  readonly url: URL;
  readonly verifier: string;
  readonly state: string;
}

async function authorization(configuration: oidc.Configuration, extra: Record<string, string> = {}): Promise<Authorization> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(configuration, {
    redirect_uri: `${app.origin}/callback`,
    scope: 'openid email profile',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    ...extra,
  });
  return { url, verifier, state };
}

const people = new WeakMap<Page, { email: string; accountId: string }>();

/**
 * A new person (account) in a fresh browser profile whose CSP reports are collected for
 * the final check. Consent is remembered per account and client, so every test that
 * expects a consent page needs a person who has not consented yet.
 */
async function person(): Promise<Page> {
  const { page } = await newPerson(browser, { violations });
  const email = `grace.${Math.random().toString(36).slice(2, 10)}@example.com`;
  const account = await server.services.accounts.create({ email, name: 'Grace Hopper', password: PASSWORD, emailVerified: true });
  people.set(page, { email, accountId: account.id });
  return page;
}

const emailOf = (page: Page) => people.get(page)!.email;
const accountOf = (page: Page) => people.get(page)!.accountId;

async function arrivedAt(page: Page, path: string): Promise<URL> {
  await page.waitForURL((url) => url.origin === app.origin && url.pathname === path);
  return new URL(page.url());
}

async function signIn(page: Page, password = PASSWORD): Promise<void> {
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await page.getByLabel('Email').fill(emailOf(page));
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

async function allow(page: Page): Promise<void> {
  await page.getByRole('heading', { level: 1, name: /wants to access your account/ }).waitFor();
  await page.getByRole('button', { name: 'Allow' }).click();
}

async function redeem(configuration: oidc.Configuration, callback: URL, request: Authorization) {
  return oidc.authorizationCodeGrant(configuration, callback, { pkceCodeVerifier: request.verifier, expectedState: request.state });
}

/** Signs in to `first` with consent; returns the tokens the client got. */
async function signedIn(page: Page) {
  const request = await authorization(first);
  await page.goto(request.url.href);
  await signIn(page);
  await allow(page);
  return redeem(first, await arrivedAt(page, '/callback'), request);
}

describe('signing in', () => {
  test('a person signs in, consents, and the client redeems the code it receives', async () => {
    const page = await person();
    const request = await authorization(first, { scope: 'openid email offline_access read', resource: API, prompt: 'consent' });
    await page.goto(request.url.href);
    await signIn(page);
    await page.getByText('See your email address').waitFor();
    await page.getByText('Read your documents').waitFor();
    await allow(page);
    const tokens = await redeem(first, await arrivedAt(page, '/callback'), request);
    assert.equal(tokens.claims()?.sub, accountOf(page));
    assert.ok(tokens.access_token);
    assert.ok(tokens.refresh_token, 'offline_access was granted');
    await page.context().close();
  });

  test('denying consent sends access_denied to the client', async () => {
    const page = await person();
    const request = await authorization(first);
    await page.goto(request.url.href);
    await signIn(page);
    await page.getByRole('button', { name: 'Deny' }).click();
    const callback = await arrivedAt(page, '/callback');
    assert.equal(callback.searchParams.get('error'), 'access_denied');
    assert.equal(callback.searchParams.get('state'), request.state);
    await page.context().close();
  });

  test('a wrong password shows one generic message, keeps the email, and lets the person try again', async () => {
    const page = await person();
    const request = await authorization(first);
    await page.goto(request.url.href);
    await signIn(page, 'not the password');
    await page.getByRole('alert').filter({ hasText: 'Email or password is incorrect.' }).waitFor();
    assert.equal(await page.getByLabel('Email').inputValue(), emailOf(page));
    assert.equal(await page.getByLabel('Password').inputValue(), '');
    assert.match(new URL(page.url()).pathname, /^\/interaction\//);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await allow(page);
    await redeem(first, await arrivedAt(page, '/callback'), request);
    await page.context().close();
  });

  test('a second client reuses the session: no password, only its own consent', async () => {
    const page = await person();
    await signedIn(page);
    const request = await authorization(second);
    await page.goto(request.url.href);
    await page.getByRole('heading', { level: 1, name: /Second App wants to access/ }).waitFor();
    assert.equal(await page.getByLabel('Password').count(), 0, 'no login form on the way');
    await allow(page);
    const tokens = await redeem(second, await arrivedAt(page, '/callback'), request);
    assert.equal(tokens.claims()?.sub, accountOf(page));
    await page.context().close();
  });

  test('form_post delivers the code to the client as a POST', async () => {
    const page = await person();
    await signedIn(page);
    const request = await authorization(first, { response_mode: 'form_post' });
    const before = app.arrivals.length;
    await page.goto(request.url.href);
    await arrivedAt(page, '/callback');
    const arrival = app.arrivals.slice(before).find((a) => a.method === 'POST');
    assert.ok(arrival, 'the engine posted the response to the client');
    const body = new URLSearchParams(arrival.body);
    assert.ok(body.get('code'));
    assert.equal(body.get('state'), request.state);
    await page.context().close();
  });
});

describe('signing out', () => {
  test('with an id_token_hint the client signs the person out without a question, then prompt=none needs a login', async () => {
    const page = await person();
    const tokens = await signedIn(page);
    const logout = oidc.buildEndSessionUrl(first, {
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: `${app.origin}/signed-out`,
      state: 'bye',
    });
    await page.goto(logout.href);
    const back = await arrivedAt(page, '/signed-out');
    assert.equal(back.searchParams.get('state'), 'bye');

    const silent = await authorization(first, { prompt: 'none' });
    await page.goto(silent.url.href);
    const callback = await arrivedAt(page, '/callback');
    assert.equal(callback.searchParams.get('error'), 'login_required');
    await page.context().close();
  });

  test('without an id_token_hint the person is asked first, and returns to the registered URI', async () => {
    const page = await person();
    await signedIn(page);
    const logout = oidc.buildEndSessionUrl(first, { post_logout_redirect_uri: `${app.origin}/signed-out`, state: 'asked' });
    await page.goto(logout.href);
    await page.getByRole('heading', { name: 'Sign out?' }).waitFor();
    await page.getByText(emailOf(page)).waitFor();
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    const back = await arrivedAt(page, '/signed-out');
    assert.equal(back.searchParams.get('state'), 'asked');

    const silent = await authorization(first, { prompt: 'none' });
    await page.goto(silent.url.href);
    assert.equal((await arrivedAt(page, '/callback')).searchParams.get('error'), 'login_required');
    await page.context().close();
  });

  test('a logout link without a client asks, then shows the signed-out page', async () => {
    const page = await person();
    await signedIn(page);
    await page.goto(`${server.issuer}/session/end`);
    await page.getByRole('heading', { name: 'Sign out?' }).waitFor();
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.getByRole('heading', { name: 'You have signed out' }).waitFor();

    const again = await authorization(first);
    await page.goto(again.url.href);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.context().close();
  });
});

describe('the pages themselves', () => {
  test('an expired sign-in page says so and starts the same request again', async () => {
    const page = await person();
    const request = await authorization(first);
    await page.goto(request.url.href);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    const loginUrl = page.url();
    // The interaction disappears (expiry), as it does after an hour.
    await server.database.prisma.oidcInteraction.deleteMany({});
    const response = await page.goto(loginUrl);
    assert.equal(response?.status(), 400);
    await page.getByRole('heading', { name: 'This sign-in has expired' }).waitFor();
    await page.getByRole('link', { name: 'Start again' }).click();
    await signIn(page);
    await allow(page);
    await redeem(first, await arrivedAt(page, '/callback'), request);
    await page.context().close();
  });

  test('no page trips its own Content-Security-Policy', () => {
    assert.deepEqual(violations, []);
  });
});
