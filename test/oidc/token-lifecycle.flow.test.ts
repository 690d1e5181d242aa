import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import * as oidc from 'openid-client';

import { runBrowser } from '../helpers/browserless-login.ts';
import { basicAuth, postAsClient } from '../helpers/token-endpoint.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// Deleting a client, revoking its tokens, or disabling a person ends every token, grant,
// session and consent they hold, JWT access tokens included; a client registered again
// under the same id starts from nothing. Only a token's own client may revoke it.

const REDIRECT = 'http://localhost:8080/callback';
const JWT_API = 'https://jwt.lifecycle.example.com';
const OPAQUE_API = 'https://opaque.lifecycle.example.com';
const insecure = { execute: [oidc.allowInsecureRequests] };

let server: TestServer;
let api: { id: string; secret: string };

before(async () => {
  server = await startTestServer();
  const { resources, clients } = server.services;
  await resources.create({ indicator: JWT_API, name: 'JWT API', scopes: [{ name: 'read' }], accessTokenFormat: 'jwt' });
  await resources.create({ indicator: OPAQUE_API, name: 'Opaque API', scopes: [{ name: 'read' }], accessTokenFormat: 'opaque' });
  const created = await clients.create({ type: 'resource-server', name: 'Both APIs', resources: [JWT_API, OPAQUE_API] });
  api = { id: created.client.clientId, secret: created.clientSecret! };
});

after(async () => {
  await server?.close();
});

let people = 0;
async function person(): Promise<{ email: string; password: string; id: string }> {
  people += 1;
  const email = `person${people}@lifecycle.example.com`;
  const password = `password of person ${people}`;
  const account = await server.services.accounts.create({ email, name: `Person ${people}`, password });
  return { email, password, id: account.id };
}

async function webClient(clientId?: string) {
  const created = await server.services.clients.create({
    ...(clientId && { clientId }),
    type: 'web',
    name: 'Lifecycle app',
    redirectUris: [REDIRECT],
    resources: [JWT_API, OPAQUE_API],
    scopes: ['openid', 'offline_access', 'read'],
  });
  return { id: created.client.clientId, secret: created.clientSecret! };
}

async function serviceClient(clientId?: string) {
  const created = await server.services.clients.create({ ...(clientId && { clientId }), type: 'service', name: 'Lifecycle batch', resources: [JWT_API, OPAQUE_API], scopes: ['read'] });
  return { id: created.client.clientId, secret: created.clientSecret! };
}

/** A person's sign-in: tokens for one resource, and the pages that were shown. */
async function signIn(client: { id: string; secret: string }, who: { email: string; password: string }, resource: string) {
  const configuration = await oidc.discovery(new URL(server.issuer), client.id, undefined, oidc.ClientSecretBasic(client.secret), insecure);
  const verifier = oidc.randomPKCECodeVerifier();
  const url = oidc.buildAuthorizationUrl(configuration, {
    redirect_uri: REDIRECT,
    scope: 'openid offline_access read',
    resource,
    prompt: 'consent',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  const browser = await runBrowser(url, { email: who.email, password: who.password });
  const tokens = await oidc.authorizationCodeGrant(configuration, browser.url, { pkceCodeVerifier: verifier, expectedState: oidc.skipStateCheck });
  return { tokens, pages: browser.pages };
}

async function machineToken(client: { id: string; secret: string }, resource: string): Promise<string> {
  const response = await postAsClient(`${server.issuer}/token`, basicAuth(client.id, client.secret), { grant_type: 'client_credentials', resource, scope: 'read' });
  assert.equal(response.status, 200);
  return ((await response.json()) as { access_token: string }).access_token;
}

async function active(token: string): Promise<boolean> {
  const response = await postAsClient(`${server.issuer}/token/introspection`, basicAuth(api.id, api.secret), { token });
  return ((await response.json()) as { active: boolean }).active;
}

async function refreshStatus(client: { id: string; secret: string }, refreshToken: string): Promise<number> {
  return (await postAsClient(`${server.issuer}/token`, basicAuth(client.id, client.secret), { grant_type: 'refresh_token', refresh_token: refreshToken })).status;
}

describe('deleting a client', () => {
  test('ends its JWT and opaque access tokens, refresh tokens and client-credentials tokens at once', async () => {
    const web = await webClient();
    const service = await serviceClient();
    const who = await person();
    const jwt = await signIn(web, who, JWT_API);
    const opaque = await signIn(web, who, OPAQUE_API);
    const machineJwt = await machineToken(service, JWT_API);
    const machineOpaque = await machineToken(service, OPAQUE_API);
    for (const token of [jwt.tokens.access_token, opaque.tokens.access_token, machineJwt, machineOpaque]) assert.equal(await active(token), true);

    await server.services.clients.delete(web.id);
    await server.services.clients.delete(service.id);
    for (const token of [jwt.tokens.access_token, opaque.tokens.access_token, machineJwt, machineOpaque]) {
      assert.equal(await active(token), false, 'no token of a deleted client stays active');
    }
    assert.equal(await server.services.grants.listForAccount(who.id).then((grants) => grants.filter((g) => g.clientId === web.id).length), 0);
  });

  test('a client registered again under the same id inherits no token, grant or consent', async () => {
    const web = await webClient('reborn-web');
    const service = await serviceClient('reborn-batch');
    const who = await person();
    const before = await signIn(web, who, JWT_API);
    assert.deepEqual(before.pages, ['login', 'consent']);
    const oldMachine = await machineToken(service, JWT_API);

    await server.services.clients.delete(web.id);
    await server.services.clients.delete(service.id);
    const reborn = await webClient('reborn-web');
    const rebornService = await serviceClient('reborn-batch');

    assert.equal(await active(before.tokens.access_token), false);
    assert.equal(await active(oldMachine), false, "the old client's JWT names an old token generation");
    assert.equal(await refreshStatus(reborn, before.tokens.refresh_token!), 400);
    const again = await signIn(reborn, who, JWT_API);
    assert.deepEqual(again.pages, ['login', 'consent'], 'consent is asked again');
    assert.equal(await active(await machineToken(rebornService, JWT_API)), true, 'the new client works');
  });
});

describe("revoking a client's tokens", () => {
  test('ends its client-credentials JWTs too, while the client keeps working with new tokens', async () => {
    const service = await serviceClient();
    const old = await machineToken(service, JWT_API);
    assert.equal(await active(old), true);
    await server.services.clients.revokeTokens(service.id);
    assert.equal(await active(old), false);
    assert.equal(await active(await machineToken(service, JWT_API)), true);
  });
});

describe('disabling a person', () => {
  test('ends their access tokens in introspection, their refresh tokens and their sessions', async () => {
    const web = await webClient();
    const who = await person();
    const jwt = await signIn(web, who, JWT_API);
    const opaque = await signIn(web, who, OPAQUE_API);
    assert.ok(await server.database.prisma.oidcSession.count({ where: { accountId: who.id, endedAt: null } }));

    await server.services.accounts.setDisabled(who.id, true);
    assert.equal(await active(jwt.tokens.access_token), false);
    assert.equal(await active(opaque.tokens.access_token), false);
    assert.equal(await refreshStatus(web, jwt.tokens.refresh_token!), 400);
    // Ended, kept an hour so that a request in flight cannot save one back (ended-session.ts).
    assert.equal(await server.database.prisma.oidcSession.count({ where: { accountId: who.id, endedAt: null } }), 0);
  });
});

describe("a refresh reads its person along with its token", () => {
  test('as they are at that moment: one disabled in the table alone, tokens left in place, is refused; an enabled one is not', async () => {
    const web = await webClient();
    const kept = await person();
    const disabled = await person();
    const keptTokens = await signIn(web, kept, OPAQUE_API);
    const disabledTokens = await signIn(web, disabled, OPAQUE_API);
    // Not through the service, which would also end the tokens: only the account read
    // along with the refresh token can refuse this one.
    await server.database.pool.query('UPDATE accounts SET disabled = true WHERE id = $1', [disabled.id]);
    assert.equal(await refreshStatus(web, disabledTokens.tokens.refresh_token!), 400);
    assert.equal(await refreshStatus(web, keptTokens.tokens.refresh_token!), 200);
  });
});

describe('revocation by the owner only', () => {
  test("another client's revocation of a token is refused with an error and changes nothing", async () => {
    const web = await webClient();
    const other = await webClient();
    const who = await person();
    const jwt = await signIn(web, who, JWT_API);
    const opaque = await signIn(web, who, OPAQUE_API);
    const before = await server.database.prisma.auditEvent.count({ where: { type: 'token.revoked' } });
    for (const token of [jwt.tokens.access_token, opaque.tokens.access_token, opaque.tokens.refresh_token!]) {
      const response = await postAsClient(`${server.issuer}/token/revocation`, basicAuth(other.id, other.secret), { token });
      assert.equal(response.status, 400);
      assert.equal(((await response.json()) as { error: string }).error, 'invalid_request');
    }
    assert.equal(await active(jwt.tokens.access_token), true);
    assert.equal(await active(opaque.tokens.access_token), true);
    assert.equal(await refreshStatus(web, opaque.tokens.refresh_token!), 200);
    await server.auditWriter.flush();
    assert.equal(await server.database.prisma.auditEvent.count({ where: { type: 'token.revoked' } }), before, 'nothing was recorded as revoked');
  });

  test('an unknown token is a 200 for its would-be owner, as RFC 7009 asks', async () => {
    const web = await webClient();
    const response = await postAsClient(`${server.issuer}/token/revocation`, basicAuth(web.id, web.secret), { token: 'not-a-token-we-issued' });
    assert.equal(response.status, 200);
  });
});

describe("a person's account API", () => {
  test('revoking an app everywhere ends every authorization of it and forgets the consent', async () => {
    const web = await webClient();
    const who = await person();
    await server.services.clients.update(web.id, { resources: [JWT_API, OPAQUE_API, `${server.issuer}/api`], scopes: ['openid', 'offline_access', 'read', 'account:read', 'account:write'] });
    const configuration = await oidc.discovery(new URL(server.issuer), web.id, undefined, oidc.ClientSecretBasic(web.secret), insecure);
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(configuration, {
      redirect_uri: REDIRECT,
      scope: 'openid offline_access account:write',
      resource: `${server.issuer}/api`,
      prompt: 'consent',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const browser = await runBrowser(url, { email: who.email, password: who.password });
    const tokens = await oidc.authorizationCodeGrant(configuration, browser.url, { pkceCodeVerifier: verifier, expectedState: oidc.skipStateCheck });
    const second = await signIn(web, who, JWT_API);

    const bad = await fetch(`${server.issuer}/api/grants?client_id=%00`, { method: 'DELETE', headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(bad.status, 400);
    const response = await fetch(`${server.issuer}/api/grants?client_id=${web.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(response.status, 204);
    assert.equal(await refreshStatus(web, second.tokens.refresh_token!), 400, 'the other device is signed out of the app too');
    assert.equal(await active(second.tokens.access_token), false);
    const again = await signIn(web, who, JWT_API);
    assert.deepEqual(again.pages, ['login', 'consent'], 'the app must ask again');
  });
});
