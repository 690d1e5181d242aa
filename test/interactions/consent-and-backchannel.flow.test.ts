import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';

import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';

import { confirmLogout, runBrowser } from '../helpers/browserless-login.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// Consent remembered per account and client across sign-ins, and OIDC Back-Channel
// Logout: a client that registered a backchannel_logout_uri is told when its user's
// session ends.

const REDIRECT = 'http://localhost:8080/callback';
const LOGOUT_REDIRECT = 'http://localhost:8080/bye';
const USER = { email: 'carol@example.com', password: 'carol password 123' };
const insecure = { execute: [oidc.allowInsecureRequests] };

let server: TestServer;
let receiver: Server;
const logoutTokens: string[] = [];
let client: { id: string; secret: string };

before(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      logoutTokens.push(new URLSearchParams(body).get('logout_token') ?? '');
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const { port } = receiver.address() as AddressInfo;

  // The receiver is on loopback, which the engine's SSRF guard refuses by default.
  server = await startTestServer({ OUTBOUND_PRIVATE_NETWORKS: 'true' });
  await server.services.accounts.create({ email: USER.email, name: 'Carol', password: USER.password });
  const created = await server.services.clients.create({
    type: 'web',
    name: 'Notified app',
    redirectUris: [REDIRECT],
    postLogoutRedirectUris: [LOGOUT_REDIRECT],
    backchannelLogoutUri: `http://127.0.0.1:${port}/backchannel`,
    scopes: ['openid', 'email', 'profile'],
  });
  client = { id: created.client.clientId, secret: created.clientSecret! };
});

after(async () => {
  await server?.close();
  receiver?.close();
});

async function signIn(scope: string) {
  const configuration = await oidc.discovery(new URL(server.issuer), client.id, undefined, oidc.ClientSecretBasic(client.secret), insecure);
  const verifier = oidc.randomPKCECodeVerifier();
  const url = oidc.buildAuthorizationUrl(configuration, {
    redirect_uri: REDIRECT,
    scope,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  const browser = await runBrowser(url, { email: USER.email, password: USER.password });
  const tokens = await oidc.authorizationCodeGrant(configuration, browser.url, { pkceCodeVerifier: verifier, expectedState: oidc.skipStateCheck });
  return { configuration, browser, tokens };
}

describe('remembered consent', () => {
  test('a new sign-in in another browser is not asked again for granted scopes, and is asked for a new one', async () => {
    const first = await signIn('openid email');
    assert.deepEqual(first.browser.pages, ['login', 'consent']);
    const again = await signIn('openid email');
    assert.deepEqual(again.browser.pages, ['login'], 'a fresh browser: login, but no consent');
    const more = await signIn('openid email profile');
    assert.deepEqual(more.browser.pages, ['login', 'consent'], 'a new scope is asked for');
  });
});

describe('back-channel logout', () => {
  test('ending the session sends the client a signed logout token for its user', async () => {
    const { configuration, browser, tokens } = await signIn('openid email');
    logoutTokens.length = 0;
    const url = oidc.buildEndSessionUrl(configuration, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: LOGOUT_REDIRECT });
    // Confirm the logout the way the page's form does (the engine's own xsrf field).
    const done = await confirmLogout(browser.jar, url);
    assert.equal(done.status, 303);
    for (let waited = 0; logoutTokens.length === 0 && waited < 5000; waited += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(logoutTokens.length, 1);
    const { payload, protectedHeader } = await jwtVerify(logoutTokens[0]!, createRemoteJWKSet(new URL(`${server.issuer}/jwks`)), {
      issuer: server.issuer,
      audience: client.id,
    });
    assert.equal(protectedHeader.typ, 'logout+jwt');
    assert.equal(payload.sub, tokens.claims()?.sub);
    assert.ok(payload.sid, 'the session id is included (backchannel_logout_session_required)');
    assert.ok((payload.events as Record<string, unknown>)['http://schemas.openid.net/event/backchannel-logout']);
  });
});
