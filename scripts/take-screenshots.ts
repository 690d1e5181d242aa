import { mkdir } from 'node:fs/promises';

import * as oidc from 'openid-client';
import { Secret, TOTP } from 'otpauth';
import type { Browser, Page } from 'playwright-core';

import { newAdminTestPerson } from '../test/helpers/admin-api-calls.ts';
import { addVirtualAuthenticator, launchChromium, newPerson, startClientApp, type ClientApp } from '../test/helpers/browser.ts';
import { loggedAddressLink, loggedMailCode } from '../test/helpers/account-page.ts';
import { startTestServer, type TestServer } from '../test/helpers/test-server.ts';

// Pictures of every page for docs/screenshots/, desktop, phone and dark mode, taken with
// Debian's Chromium against a real server. They change only when the pages do, so they
// are taken on request (the e2e tests check the pages' behaviour on every run):
//   npm run screenshots
//   npm run screenshots -- admin     only the admin console's (admin-*.png)

const OUT = new URL('../docs/screenshots/', import.meta.url);
const EMAIL = 'ada@example.com';
const PASSWORD = 'correct horse battery staple';
const RESET_EMAIL = 'grace@example.com';

const VIEWPORTS = {
  desktop: { viewport: { width: 1280, height: 860 } },
  phone: { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true },
} as const;

let server: TestServer;
/** REGISTRATION=open and invite: the sign-up pages (the login pages above stay as a default deployment shows them). */
let openServer: TestServer;
let inviteServer: TestServer;
/** On localhost (WebAuthn takes no IP address) with PASSKEY_SIGN_IN: the passkey pages. */
let passkeyServer: TestServer;
let openClient: oidc.Configuration;
let app: ClientApp;
let browser: Browser;
let client: oidc.Configuration;
/** ADMIN_API=true: the admin console (/admin), with a few clients, resources, people and events of its own. */
let adminServer: TestServer;
let adminClient: oidc.Configuration;

/** `admin`: only the console's pictures; nothing named: every picture. */
const ONLY_ADMIN = process.argv.slice(2).includes('admin');

async function setUp(): Promise<void> {
  if (ONLY_ADMIN) {
    [app, browser] = await Promise.all([startClientApp(), launchChromium()]);
    await setUpAdmin();
    await mkdir(OUT, { recursive: true });
    return;
  }
  // One embedded database at a time: several starting at once can time out on a small machine.
  server = await startTestServer();
  openServer = await startTestServer({ REGISTRATION: 'open' });
  inviteServer = await startTestServer({ REGISTRATION: 'invite' });
  passkeyServer = await startTestServer({ PASSKEY_SIGN_IN: 'true' }, { issuerHost: 'localhost' });
  [app, browser] = await Promise.all([startClientApp(), launchChromium()]);
  const opened = await openServer.services.clients.create({ type: 'web', name: 'Acme Notes', redirectUris: [`${app.origin}/callback`], scopes: ['openid', 'email'] });
  openClient = await oidc.discovery(new URL(openServer.issuer), opened.client.clientId, undefined, oidc.ClientSecretBasic(opened.clientSecret), {
    execute: [oidc.allowInsecureRequests],
  });
  const { accounts, clients, resources } = server.services;
  await accounts.create({ email: EMAIL, name: 'Ada Lovelace', password: PASSWORD });
  await accounts.create({ email: RESET_EMAIL, name: 'Grace Hopper', password: PASSWORD });
  await resources.create(NOTES_API);
  const created = await clients.create(acmeNotes());
  client = await oidc.discovery(new URL(server.issuer), created.client.clientId, undefined, oidc.ClientSecretBasic(created.clientSecret), {
    execute: [oidc.allowInsecureRequests],
  });
  await setUpAdmin();
  await mkdir(OUT, { recursive: true });
}

/** The resource server and the app both servers show: the sign-in pages' and the console's. */
const NOTES_API = {
  indicator: 'https://api.notes.example',
  name: 'Notes API',
  scopes: [
    { name: 'notes:read', description: 'Read your notes' },
    { name: 'notes:write', description: 'Create and edit your notes' },
  ],
};
const acmeNotes = () => ({
  type: 'web',
  name: 'Acme Notes',
  redirectUris: [`${app.origin}/callback`],
  postLogoutRedirectUris: [`${app.origin}/signed-out`],
  resources: [NOTES_API.indicator],
  scopes: ['openid', 'email', 'profile', 'offline_access', 'notes:read', 'notes:write'],
});

async function setUpAdmin(): Promise<void> {
  adminServer = await startTestServer({ ADMIN_API: 'true' });
  const { accounts, clients, resources } = adminServer.services;
  await accounts.create({ email: EMAIL, name: 'Ada Lovelace', password: PASSWORD });
  await accounts.create({ email: RESET_EMAIL, name: 'Grace Hopper', password: PASSWORD, roles: ['support'] });
  await accounts.create({ email: 'katherine@example.com', name: 'Katherine Johnson', password: PASSWORD });
  await resources.create(NOTES_API);
  await resources.create({ indicator: 'https://api.billing.example', name: 'Billing API', scopes: [{ name: 'invoices:read', description: 'Read your invoices', roles: ['support'] }] });
  const created = await clients.create(acmeNotes());
  await clients.create({ type: 'spa', name: 'Acme Board', redirectUris: ['https://board.acme.example/callback'], corsOrigins: ['https://board.acme.example'] });
  await clients.create({ type: 'service', name: 'Nightly Export', resources: ['https://api.notes.example'], scopes: ['notes:read'] });
  adminClient = await oidc.discovery(new URL(adminServer.issuer), created.client.clientId, undefined, oidc.ClientSecretBasic(created.clientSecret), {
    execute: [oidc.allowInsecureRequests],
  });
  // Events for the overview and the audit trail: a wrong password, then a sign-in and consent.
  const { context, page } = await newPerson(browser);
  await page.goto(
    oidc.buildAuthorizationUrl(adminClient, {
      redirect_uri: `${app.origin}/callback`,
      scope: 'openid email notes:read',
      resource: 'https://api.notes.example',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
      state: oidc.randomState(),
    }).href,
  );
  await page.getByLabel('Email').fill(EMAIL);
  await page.getByLabel('Password').fill('wrong password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').waitFor();
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.waitForURL((url) => url.origin === app.origin);
  await context.close();
}

async function tearDown(): Promise<void> {
  await browser?.close();
  await app?.close();
  await Promise.all([server?.close(), openServer?.close(), inviteServer?.close(), passkeyServer?.close(), adminServer?.close()]);
}

async function authorizationUrl(extra: Record<string, string> = {}): Promise<string> {
  return oidc.buildAuthorizationUrl(client, {
    redirect_uri: `${app.origin}/callback`,
    scope: 'openid email profile offline_access notes:read notes:write',
    resource: 'https://api.notes.example',
    prompt: 'consent',
    code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
    state: oidc.randomState(),
    ...extra,
  }).href;
}

async function shoot(page: Page, name: string, form: string): Promise<void> {
  await page.screenshot({ path: new URL(`${name}-${form}.png`, OUT).pathname, fullPage: true });
}

async function everyPage(form: string, contextOptions: (typeof VIEWPORTS)[keyof typeof VIEWPORTS]): Promise<void> {
  {
    const { context, page } = await newPerson(browser, { context: contextOptions });
    await page.goto(await authorizationUrl());
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await shoot(page, 'login', form);

    await page.getByLabel('Email').fill(EMAIL);
    await page.getByLabel('Password').fill('wrong password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').waitFor();
    await shoot(page, 'login-error', form);

    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Allow' }).waitFor();
    await shoot(page, 'consent', form);
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL((url) => url.origin === app.origin);

    await page.goto(oidc.buildEndSessionUrl(client, { post_logout_redirect_uri: `${app.origin}/signed-out` }).href);
    await page.getByRole('heading', { name: 'Sign out?' }).waitFor();
    await shoot(page, 'logout', form);

    await page.goto(`${server.issuer}/session/end`);
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.getByRole('heading', { name: 'You have signed out' }).waitFor();
    await shoot(page, 'logged-out', form);

    await page.goto(await authorizationUrl());
    const expired = page.url();
    await server.database.prisma.oidcInteraction.deleteMany({});
    await page.goto(expired);
    await shoot(page, 'error-expired', form);

    await page.goto(await authorizationUrl({ redirect_uri: 'https://evil.example/callback' }));
    await shoot(page, 'error', form);
    await context.close();
  }
}

/**
 * The password reset pages, for an account of their own (a reset ends its sessions). No
 * SMTP_URL here: the link is read from the log, where development finds it too.
 */
async function resetPages(form: string, contextOptions: (typeof VIEWPORTS)[keyof typeof VIEWPORTS]): Promise<void> {
  const { context, page } = await newPerson(browser, { context: contextOptions });
  await page.goto(await authorizationUrl());
  await page.getByRole('link', { name: 'Forgot password?' }).click();
  await page.getByRole('heading', { name: 'Reset your password' }).waitFor();
  await shoot(page, 'forgot-password', form);
  await page.getByLabel('Email').fill(RESET_EMAIL);
  await page.getByRole('button', { name: 'Send the link' }).click();
  await page.getByRole('heading', { name: 'Check your email' }).waitFor();
  await shoot(page, 'reset-sent', form);

  await server.mailer.idle();
  const links = [...server.logs().matchAll(/http:\/\/[^\s"\\]+\/password-reset\/new\?token=[A-Za-z0-9_-]+/g)];
  const link = links.at(-1)?.[0];
  if (!link) throw new Error('no reset link in the log');
  await page.goto(link);
  await page.getByRole('heading', { name: 'Choose a new password' }).waitFor();
  await shoot(page, 'reset-password', form);
  await page.getByLabel('New password').fill('password123');
  await page.getByRole('button', { name: 'Set the new password' }).click();
  await page.getByRole('alert').waitFor();
  await shoot(page, 'reset-password-error', form);
  await page.getByLabel('New password').fill(`tulip-engine-cobalt-${form}`);
  await page.getByRole('button', { name: 'Set the new password' }).click();
  await page.getByRole('heading', { name: 'Your password was changed' }).waitFor();
  await shoot(page, 'reset-done', form);
  await page.goto(link);
  await page.getByRole('heading', { name: 'This link no longer works' }).waitFor();
  await shoot(page, 'reset-invalid', form);
  await context.close();
}

/** The sign-up pages (open, and by invitation); the link is read from the log, as for resets. */
async function signUpPages(form: string, contextOptions: (typeof VIEWPORTS)[keyof typeof VIEWPORTS]): Promise<void> {
  const { context, page } = await newPerson(browser, { context: contextOptions });
  const email = `katherine.${form}@example.com`;
  await page.goto(
    oidc.buildAuthorizationUrl(openClient, {
      redirect_uri: `${app.origin}/callback`,
      scope: 'openid email',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
      state: oidc.randomState(),
    }).href,
  );
  await shoot(page, 'sign-up-login', form);
  await page.getByRole('link', { name: 'Create an account' }).click();
  await page.getByRole('heading', { name: 'Create an account' }).waitFor();
  await shoot(page, 'sign-up', form);
  await page.getByLabel('Email').fill(email);
  await page.getByRole('button', { name: 'Send the link' }).click();
  await page.getByRole('heading', { name: 'Check your email' }).waitFor();
  await shoot(page, 'sign-up-sent', form);

  await openServer.resetRequests.idle();
  await openServer.mailer.idle();
  const link = [...openServer.logs().matchAll(/http:\/\/[^\s"\\]+\/signup\/complete\?token=[A-Za-z0-9_-]+/g)].at(-1)?.[0];
  if (!link) throw new Error('no sign-up link in the log');
  await page.goto(link);
  await page.getByRole('heading', { name: 'Finish making your account' }).waitFor();
  await shoot(page, 'sign-up-complete', form);
  await page.getByLabel('Name').fill('Katherine Johnson');
  await page.getByLabel('Password').fill('password123');
  await page.getByRole('button', { name: 'Create the account' }).click();
  await page.getByRole('alert').waitFor();
  await shoot(page, 'sign-up-complete-error', form);
  await page.getByLabel('Password').fill(`tulip-engine-cobalt-${form}`);
  await page.getByRole('button', { name: 'Create the account' }).click();
  await page.getByRole('heading', { name: 'Your account is ready' }).waitFor();
  await shoot(page, 'sign-up-done', form);
  await page.goto(link);
  await page.getByRole('heading', { name: 'This link no longer works' }).waitFor();
  await shoot(page, 'sign-up-invalid', form);

  await page.goto(new URL('/signup', inviteServer.issuer).href);
  await page.getByRole('heading', { name: 'Sign-up is by invitation' }).waitFor();
  await shoot(page, 'sign-up-invite-only', form);
  const { token } = await inviteServer.services.signUps.invite({ email: `dorothy.${form}@example.com`, roles: [], ttlSeconds: 3600, createdBy: 'screenshots' });
  await page.goto(new URL(`/signup?invite=${token}`, inviteServer.issuer).href);
  await page.getByRole('heading', { name: 'Create an account' }).waitFor();
  await shoot(page, 'sign-up-invited', form);
  await context.close();
}

/** The account page, with an app authorized in another browser so that both lists have rows. */
async function accountPages(form: string, contextOptions: (typeof VIEWPORTS)[keyof typeof VIEWPORTS] | { colorScheme: 'dark' }): Promise<void> {
  const other = await newPerson(browser, { context: contextOptions });
  await other.page.goto(await authorizationUrl());
  await other.page.getByLabel('Email').fill(EMAIL);
  await other.page.getByLabel('Password').fill(PASSWORD);
  await other.page.getByRole('button', { name: 'Sign in' }).click();
  await other.page.getByRole('button', { name: 'Allow' }).click();
  await other.page.waitForURL((url) => url.origin === app.origin);

  const { context, page } = await newPerson(browser, { context: contextOptions });
  await page.goto(`${server.issuer}/account`);
  await page.getByLabel('Email').fill(EMAIL);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Your account' }).waitFor();
  await shoot(page, 'account', form);
  await page.locator('#current').fill('not the password');
  await page.getByLabel('New password').fill('a new password nobody guesses');
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.getByRole('alert').waitFor();
  await shoot(page, 'account-error', form);
  await context.close();
  await other.context.close();

  // A change of address, by an account of its own (the one above keeps its address).
  const mover = `mover-${form}@example.com`;
  await server.services.accounts.create({ email: mover, name: 'Mary Jackson', password: PASSWORD });
  const moving = await newPerson(browser, { context: contextOptions });
  await moving.page.goto(`${server.issuer}/account`);
  await moving.page.getByLabel('Email').fill(mover);
  await moving.page.getByLabel('Password').fill(PASSWORD);
  await moving.page.getByRole('button', { name: 'Sign in' }).click();
  await moving.page.getByLabel('New email address').fill(`moved-${form}@example.net`);
  await moving.page.locator('#email-current').fill(PASSWORD);
  await moving.page.getByRole('button', { name: 'Change address' }).click();
  await moving.page.getByRole('heading', { name: 'Check your email' }).waitFor();
  await shoot(moving.page, 'account-email-code', form);
  const code = await loggedMailCode(server);
  if (!code) throw new Error('no address-change code in the log');
  await moving.page.getByLabel('Code from the email').fill(code);
  await moving.page.getByRole('button', { name: 'Confirm' }).click();
  await moving.page.getByRole('status').waitFor();
  const link = await loggedAddressLink(server);
  if (!link) throw new Error('no change-of-address link in the log');
  await moving.page.goto(link);
  await shoot(moving.page, 'account-email-confirm', form);
  await moving.page.getByRole('button', { name: 'Use this address' }).click();
  await moving.page.getByRole('heading', { name: 'Address changed' }).waitFor();
  await shoot(moving.page, 'account-email-changed', form);

  // Setting up an authenticator app from the page (the code mailed is read from the log).
  await moving.page.getByRole('link', { name: 'Go to your account' }).click();
  await moving.page.locator('#factor-current').fill(PASSWORD);
  await moving.page.getByRole('button', { name: 'Set up an authenticator app' }).click();
  await moving.page.getByRole('heading', { name: 'Check your email' }).waitFor();
  await shoot(moving.page, 'account-authenticator-mailbox', form);
  const mailed = await loggedMailCode(server);
  if (!mailed) throw new Error('no mailed code in the log');
  await moving.page.getByLabel('Code from the email').fill(mailed);
  await moving.page.getByRole('button', { name: 'Confirm' }).click();
  await moving.page.getByRole('heading', { name: 'Set up two-step verification' }).waitFor();
  await shoot(moving.page, 'account-authenticator-scan', form);
  const key = ((await moving.page.locator('#totp-key').textContent()) ?? '').replaceAll(' ', '');
  await moving.page.getByLabel('Verification code').fill(TOTP.generate({ secret: Secret.fromBase32(key) }));
  await moving.page.getByRole('button', { name: 'Confirm' }).click();
  await moving.page.getByRole('heading', { name: 'Save your recovery codes' }).waitFor();
  await shoot(moving.page, 'account-authenticator-codes', form);
  await moving.context.close();
}

/** Passkeys: added on the account page, then the second factor, then the login page's button. */
async function passkeyPages(form: string, contextOptions: (typeof VIEWPORTS)[keyof typeof VIEWPORTS] | { colorScheme: 'dark' }): Promise<void> {
  const email = `passkey-${form}@example.com`;
  await passkeyServer.services.accounts.create({ email, name: 'Katherine Johnson', password: PASSWORD });
  const { context, page } = await newPerson(browser, { context: contextOptions });
  await addVirtualAuthenticator(context, page);
  const signIn = async () => {
    await page.goto(`${passkeyServer.issuer}/account`);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  };
  const signOut = async () => {
    await page.getByRole('button', { name: 'Sign out', exact: true }).last().click();
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.waitForLoadState();
  };
  await signIn();
  await page.getByLabel('Name for the new passkey').fill('Laptop');
  await page.locator('#passkey-current').fill(PASSWORD);
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  await page.getByRole('heading', { name: 'Check your email' }).waitFor();
  const mailed = await loggedMailCode(passkeyServer);
  if (!mailed) throw new Error('no mailed code in the log');
  await page.getByLabel('Code from the email').fill(mailed);
  await page.getByRole('button', { name: 'Confirm' }).click();
  await page.getByRole('button', { name: 'Create passkey' }).waitFor();
  await shoot(page, 'account-passkey-create', form);
  await page.getByRole('button', { name: 'Create passkey' }).click();
  await page.getByRole('heading', { name: 'Save your recovery codes' }).waitFor();
  await page.getByRole('link', { name: 'Back to your account' }).click();
  await page.getByText('device-bound').waitFor();
  await shoot(page, 'account-passkeys', form);
  await signOut();
  await signIn();
  await page.getByRole('button', { name: 'Use a passkey' }).waitFor();
  await shoot(page, 'second-factor-passkey', form);
  await page.getByRole('button', { name: 'Use a passkey' }).click();
  await page.getByRole('heading', { level: 1, name: 'Your account' }).waitFor();
  await signOut();
  await page.goto(`${passkeyServer.issuer}/account`);
  await page.getByRole('button', { name: 'Sign in with a passkey' }).waitFor();
  await shoot(page, 'login-passkey', form);
  await context.close();
}

/**
 * The admin console's pages (admin-*.png), by an admin who signs in with a recovery code as
 * the second factor: overview, clients (a new one registered: its secret page), resource
 * servers, users, the audit trail and keys.
 */
async function adminPages(form: string, contextOptions: (typeof VIEWPORTS)[keyof typeof VIEWPORTS]): Promise<void> {
  const admin = await newAdminTestPerson(adminServer, `admin-${form}-`, ['admin']);
  const { context, page } = await newPerson(browser, { context: contextOptions });
  await page.goto(`${adminServer.issuer}/admin`);
  await page.getByLabel('Email').fill(admin.email);
  await page.getByLabel('Password').fill(admin.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByLabel('Verification code').fill(admin.recoveryCodes[0]!);
  await page.getByRole('button', { name: 'Verify' }).click();
  await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
  await shoot(page, 'admin-overview', form);

  const nav = page.getByRole('navigation', { name: 'Console' });
  /** Follows a link (of the console's navigation, or of the page) to the page headed `heading`, and takes it. */
  const visit = async (link: string, heading: string, name: string, from: 'nav' | 'page' = 'nav') => {
    await (from === 'nav' ? nav : page).getByRole('link', { name: link }).click();
    await page.getByRole('heading', { level: 1, name: heading }).waitFor();
    await shoot(page, name, form);
  };
  await visit('Clients', 'Clients', 'admin-clients');
  await page.locator('#type').selectOption('web');
  await page.getByLabel('Name', { exact: true }).fill(form === 'phone' ? 'Acme Calendar' : 'Acme Reports');
  await page.getByLabel('Redirect URIs', { exact: true }).fill(`${app.origin}/${form}/callback`);
  await page.getByRole('button', { name: 'Register the client' }).click();
  await page.getByRole('heading', { level: 1, name: 'Client registered' }).waitFor();
  await shoot(page, 'admin-client-secret', form);
  await page.goto(`${adminServer.issuer}/admin/clients/${encodeURIComponent(adminClient.clientMetadata().client_id)}`);
  await page.getByRole('heading', { level: 1, name: 'Acme Notes' }).waitFor();
  await shoot(page, 'admin-client', form);
  await visit('Resource servers', 'Resource servers', 'admin-resources');
  await visit('Notes API', 'Notes API', 'admin-resource', 'page');
  await visit('Users', 'Users', 'admin-users');
  await visit(EMAIL, 'Ada Lovelace', 'admin-user', 'page');
  await visit('Audit trail', 'Audit trail', 'admin-audit');
  await visit('Keys', 'Keys', 'admin-keys');
  await context.close();
}

async function darkMode(): Promise<void> {
  const { context, page } = await newPerson(browser, { context: { ...VIEWPORTS.desktop, colorScheme: 'dark' } });
  await page.goto(await authorizationUrl());
  await page.getByLabel('Email').fill(EMAIL);
  await page.getByLabel('Password').fill('wrong password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').waitFor();
  await shoot(page, 'login-error', 'dark');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Allow' }).waitFor();
  await shoot(page, 'consent', 'dark');
  await context.close();
}

try {
  await setUp();
  for (const [form, contextOptions] of Object.entries(VIEWPORTS)) await adminPages(form, contextOptions);
  if (!ONLY_ADMIN) {
    for (const [form, contextOptions] of Object.entries(VIEWPORTS)) await everyPage(form, contextOptions);
    for (const [form, contextOptions] of Object.entries(VIEWPORTS)) await resetPages(form, contextOptions);
    for (const [form, contextOptions] of Object.entries(VIEWPORTS)) await signUpPages(form, contextOptions);
    for (const [form, contextOptions] of Object.entries(VIEWPORTS)) await accountPages(form, contextOptions);
    await darkMode();
    await accountPages('dark', { ...VIEWPORTS.desktop, colorScheme: 'dark' });
    for (const [form, contextOptions] of Object.entries(VIEWPORTS)) await passkeyPages(form, contextOptions);
  }
  console.log(`screenshots written to ${OUT.pathname}`);
} finally {
  await tearDown();
}
