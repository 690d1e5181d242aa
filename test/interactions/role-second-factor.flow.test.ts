import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import * as oidc from 'openid-client';
import { Secret, TOTP } from 'otpauth';

import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.ts';
import { ACR_MFA, ACR_PWD, APP, atCallback, declaration, discover, formAction, idTokenClaims, keyOf, PASSWORD, post, proveMailbox, REDIRECT, start } from '../helpers/second-factor-pages.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// MFA_REQUIRED_ROLES (admin by default): whoever holds such a role signs in with a second
// factor, at any client, whatever MFA says; tried as someone would who has an admin's
// password, a session from before the role was given, or a refresh token from a
// password-only sign-in. The roles are read as they are at each request.

const REPORTS = 'https://reports.example.com';

let server: TestServer;
let sink: SmtpSink;
let app: oidc.Configuration;
let people = 0;

async function newPerson(roles: string[]): Promise<{ id: string; email: string }> {
  const email = `role-mfa${++people}@example.com`;
  const account = await server.services.accounts.create({ email, name: `Person ${people}`, password: PASSWORD, roles });
  return { id: account.id, email };
}

before(async () => {
  sink = await startSmtpSink();
  // No refresh grace: a rotated refresh token presented again is reuse at once.
  server = await startTestServer({ TRUST_PROXY: 'true', RATE_LIMIT_LOGIN: '6000/1m', SMTP_URL: sink.url, REFRESH_GRACE_SECONDS: '0' }, { declare: declaration });
  assert.deepEqual(server.config.mfa.roles, ['admin'], 'the default');
  app = await discover(server, APP);
});

after(async () => {
  await server?.close();
  await sink?.close();
});

describe('a person holding the admin role', () => {
  test('without an authenticator: the right password leads to the mailed code and an enrolment, never straight to the app', async () => {
    const person = await newPerson(['admin']);
    const flow = await start(server);
    await post(flow, 'login', { email: person.email, password: PASSWORD });
    assert.ok(!flow.page.url.href.startsWith(REDIRECT), 'no code for the app after the password alone');
    await proveMailbox(server, sink, flow, person.email);
    const key = keyOf(flow.page.html);
    assert.ok(key);
    await post(flow, 'enrol', { code: TOTP.generate({ secret: Secret.fromBase32(key) }) });
    await post(flow, 'continue', {});
    const claims = await idTokenClaims(app, flow);
    assert.equal(claims.acr, ACR_MFA);
    assert.equal(await server.services.secondFactors.state(person.id), 'confirmed');
  });

  test('given the role after signing in with a password: the session no longer passes, with or without prompt=none', async () => {
    const person = await newPerson(['staff']);
    const first = await start(server);
    await post(first, 'login', { email: person.email, password: PASSWORD });
    assert.equal((await idTokenClaims(app, first)).acr, ACR_PWD, 'staff needs no second factor');

    await server.services.accounts.update(person.id, { roles: ['staff', 'admin'] });
    const silent = await start(server, { prompt: 'none' }, first.jar);
    assert.ok(silent.page.url.href.startsWith(REDIRECT), silent.page.url.href);
    assert.equal(silent.page.url.searchParams.get('code'), null, 'no code over the password-only session');
    assert.equal(silent.page.url.searchParams.get('error'), 'interaction_required');

    const again = await start(server, {}, first.jar);
    assert.ok(formAction(again.page.html, 'login'), `the password form again, not the app: ${again.page.html.slice(0, 300)}`);
    await post(again, 'login', { email: person.email, password: PASSWORD });
    assert.ok(formAction(again.page.html, 'mailbox'), 'then the mailed code before an enrolment');
  });

  test('MFA stays optional for everyone else: a person without such a role signs in with the password', async () => {
    const person = await newPerson(['staff', 'administrator']);
    const flow = await start(server);
    await post(flow, 'login', { email: person.email, password: PASSWORD });
    assert.ok(await atCallback(flow));
  });
});

describe('scopes a role requiring a second factor grants', () => {
  let web: oidc.Configuration;

  before(async () => {
    await server.services.resources.create({ indicator: REPORTS, name: 'Reports', scopes: [{ name: 'reports:write', description: 'Change reports', roles: ['admin', 'ops'] }], accessTokenFormat: 'jwt' });
    const { client, clientSecret } = await server.services.clients.create({
      type: 'web',
      name: 'Reports app',
      redirectUris: [REDIRECT],
      resources: [REPORTS],
      scopes: ['openid', 'offline_access', 'reports:write'],
    });
    web = await oidc.discovery(new URL(server.issuer), client.clientId, undefined, oidc.ClientSecretBasic(clientSecret), { execute: [oidc.allowInsecureRequests] });
  });

  test('a refresh token or code from a password-only sign-in stops working once the person holds such a role, and works again without it', async () => {
    const person = await newPerson(['ops']);
    const flow = await start(server, { client_id: web.clientMetadata().client_id, scope: 'openid offline_access reports:write', resource: REPORTS, prompt: 'consent' });
    await post(flow, 'login', { email: person.email, password: PASSWORD });
    assert.ok(await atCallback(flow));
    const tokens = await oidc.authorizationCodeGrant(web, flow.page.url, { pkceCodeVerifier: flow.verifier, expectedState: flow.state });
    assert.equal(tokens.claims()?.acr, ACR_PWD);
    assert.match(tokens.scope ?? '', /reports:write/, 'ops grants it with a password');
    const refreshToken = tokens.refresh_token!;

    // Made admin: the grant names reports:write, the sign-in had no second factor. Neither it
    // nor an ID token nor anything else comes from this refresh token any more.
    await server.services.accounts.update(person.id, { roles: ['ops', 'admin'] });
    const refused = await oidc.refreshTokenGrant(web, refreshToken, { resource: REPORTS }).then(
      () => assert.fail('refreshed'),
      (error: unknown) => error as { error?: string },
    );
    assert.equal(refused.error, 'invalid_grant');

    // The role taken back: the same refresh token works (what the refusal above turned on).
    await server.services.accounts.update(person.id, { roles: ['ops'] });
    const asOps = await oidc.refreshTokenGrant(web, refreshToken, { resource: REPORTS });
    assert.match(asOps.scope ?? '', /reports:write/);
  });

  test('a rotated refresh token replayed while the rule refuses its person still ends the whole family (reuse detection is not skipped)', async () => {
    const person = await newPerson(['ops']);
    const flow = await start(server, { client_id: web.clientMetadata().client_id, scope: 'openid offline_access reports:write', resource: REPORTS, prompt: 'consent' });
    await post(flow, 'login', { email: person.email, password: PASSWORD });
    assert.ok(await atCallback(flow));
    const first = await oidc.authorizationCodeGrant(web, flow.page.url, { pkceCodeVerifier: flow.verifier, expectedState: flow.state });
    const second = await oidc.refreshTokenGrant(web, first.refresh_token!, { resource: REPORTS });
    assert.ok(second.refresh_token && second.refresh_token !== first.refresh_token, 'rotated');

    await server.services.accounts.update(person.id, { roles: ['ops', 'admin'] });
    await assert.rejects(oidc.refreshTokenGrant(web, first.refresh_token!, { resource: REPORTS }), (error: { error?: string }) => error.error === 'invalid_grant');
    // The role taken back: had the replay only been refused, the successor would work now.
    await server.services.accounts.update(person.id, { roles: ['ops'] });
    await assert.rejects(oidc.refreshTokenGrant(web, second.refresh_token, { resource: REPORTS }), (error: { error?: string }) => error.error === 'invalid_grant', 'the family ended with the replay');
  });

  test('the same rule for a client switched to require a second factor: its password-only refresh tokens stop, and work again when switched back', async () => {
    const person = await newPerson([]);
    const clientId = web.clientMetadata().client_id;
    const flow = await start(server, { client_id: clientId, scope: 'openid offline_access', prompt: 'consent' });
    await post(flow, 'login', { email: person.email, password: PASSWORD });
    assert.ok(await atCallback(flow));
    const tokens = await oidc.authorizationCodeGrant(web, flow.page.url, { pkceCodeVerifier: flow.verifier, expectedState: flow.state });
    await server.services.clients.update(clientId, { requireMfa: true });
    try {
      await assert.rejects(oidc.refreshTokenGrant(web, tokens.refresh_token!), (error: { error?: string }) => error.error === 'invalid_grant');
    } finally {
      await server.services.clients.update(clientId, { requireMfa: false });
    }
    assert.ok((await oidc.refreshTokenGrant(web, tokens.refresh_token!)).access_token);
  });

  test('a code from a password-only sign-in is refused when the role came between the sign-in and its redemption', async () => {
    const person = await newPerson(['staff']);
    const flow = await start(server);
    await post(flow, 'login', { email: person.email, password: PASSWORD });
    assert.ok(await atCallback(flow));
    await server.services.accounts.update(person.id, { roles: ['admin'] });
    await assert.rejects(oidc.authorizationCodeGrant(app, flow.page.url, { pkceCodeVerifier: flow.verifier, expectedState: flow.state }), (error: { error?: string }) => error.error === 'invalid_grant');
  });
});
