import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import * as oidc from 'openid-client';

import { hashTokenId } from '../../src/oidc/index.ts';
import { runBrowser } from '../helpers/browserless-login.ts';
import { basicAuth, postAsClient } from '../helpers/token-endpoint.ts';
import { eventually } from '../helpers/eventually.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// Revocation that races issuance. Revoking a grant deletes its rows in one transaction,
// and revoking a client's tokens replaces its token generation and deletes its
// client-credentials rows; a token written just after that (issued concurrently) must be
// dead all the same. Each test builds the state such a race leaves behind and checks that
// every surface (introspection, userinfo, the account API) calls the token inactive.

const REDIRECT = 'http://localhost:8080/callback';
const OPAQUE_API = 'https://opaque.races.example.com';
const USER = { email: 'rae@example.com', password: 'rae password 1234' };
const insecure = { execute: [oidc.allowInsecureRequests] };

let server: TestServer;
let accountApi: string;
let web: { id: string; secret: string };
let service: { id: string; secret: string };
let introspector: { id: string; secret: string };

before(async () => {
  server = await startTestServer();
  accountApi = `${server.issuer}/api`;
  const { clients, resources, accounts } = server.services;
  await accounts.create({ email: USER.email, name: 'Rae', password: USER.password });
  await resources.create({ indicator: OPAQUE_API, name: 'Opaque API', scopes: [{ name: 'read' }], accessTokenFormat: 'opaque' });
  await resources.update(accountApi, { accessTokenFormat: 'opaque' });
  const created = await clients.create({
    type: 'web',
    name: 'Races app',
    redirectUris: [REDIRECT],
    resources: [accountApi, OPAQUE_API],
    scopes: ['openid', 'offline_access', 'read', 'account:read'],
  });
  web = { id: created.client.clientId, secret: created.clientSecret! };
  const batch = await clients.create({ type: 'service', name: 'Races batch', resources: [OPAQUE_API], scopes: ['read'] });
  service = { id: batch.client.clientId, secret: batch.clientSecret! };
  const rs = await clients.create({ type: 'resource-server', name: 'Opaque API server', resources: [OPAQUE_API] });
  introspector = { id: rs.client.clientId, secret: rs.clientSecret! };
});

after(async () => {
  await server?.close();
});

async function signIn(scope: string, resource?: string) {
  const configuration = await oidc.discovery(new URL(server.issuer), web.id, undefined, oidc.ClientSecretBasic(web.secret), insecure);
  const verifier = oidc.randomPKCECodeVerifier();
  const url = oidc.buildAuthorizationUrl(configuration, {
    redirect_uri: REDIRECT,
    scope,
    ...(resource && { resource }),
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  const browser = await runBrowser(url, { email: USER.email, password: USER.password });
  return oidc.authorizationCodeGrant(configuration, browser.url, { pkceCodeVerifier: verifier, expectedState: oidc.skipStateCheck });
}

async function introspect(token: string, as: { id: string; secret: string } = web): Promise<boolean> {
  const response = await postAsClient(`${server.issuer}/token/introspection`, basicAuth(as.id, as.secret), { token });
  return ((await response.json()) as { active: boolean }).active;
}

async function apiStatus(token: string): Promise<number> {
  const response = await fetch(`${accountApi}/me`, { headers: { authorization: `Bearer ${token}` } });
  await response.arrayBuffer();
  return response.status;
}

async function userinfoStatus(token: string): Promise<number> {
  const response = await fetch(`${server.issuer}/me`, { headers: { authorization: `Bearer ${token}` } });
  await response.arrayBuffer();
  return response.status;
}

/** What a grant revocation leaves when a token of the grant was written just after it: the token's row, no grant. */
async function loseGrant(accessToken: string): Promise<void> {
  const row = await server.database.prisma.oidcAccessToken.findUniqueOrThrow({ where: { id: hashTokenId(accessToken) } });
  assert.ok(row.grantId);
  assert.equal((await server.database.prisma.oidcGrant.deleteMany({ where: { id: row.grantId } })).count, 1);
}

describe('an opaque access token whose grant is gone', () => {
  test('is inactive at the account API, as at introspection and userinfo (as a JWT would be)', async () => {
    const tokens = await signIn('openid account:read', accountApi);
    assert.doesNotMatch(tokens.access_token, /^ey/);
    assert.equal(await apiStatus(tokens.access_token), 200);
    assert.equal(await introspect(tokens.access_token), true);

    await loseGrant(tokens.access_token);
    assert.equal(await apiStatus(tokens.access_token), 401);
    assert.equal(await introspect(tokens.access_token), false);
  });

  test('a userinfo token of a lost grant is refused at userinfo', async () => {
    const tokens = await signIn('openid');
    assert.equal(await userinfoStatus(tokens.access_token), 200);
    await loseGrant(tokens.access_token);
    assert.equal(await userinfoStatus(tokens.access_token), 401);
    assert.equal(await introspect(tokens.access_token), false);
  });
});

describe('an opaque client-credentials token issued while its client’s tokens were revoked', () => {
  test('is inactive once the token generation it was issued under is replaced, even if its row was written after the revocation deleted the others', async () => {
    const response = await postAsClient(`${server.issuer}/token`, basicAuth(service.id, service.secret), { grant_type: 'client_credentials', resource: OPAQUE_API, scope: 'read' });
    assert.equal(response.status, 200);
    const { access_token: token } = (await response.json()) as { access_token: string };
    assert.doesNotMatch(token, /^ey/);
    assert.equal(await introspect(token, introspector), true);

    // `clients revoke` replaced the generation and deleted the rows it saw; this token's
    // row was written after that delete (the race): only the generation is left to stop it.
    // Written to the table directly, as another instance or the CLI would: this instance
    // hears of it through the registry's change feed.
    await server.database.prisma.client.update({ where: { clientId: service.id }, data: { tokenGeneration: randomUUID() } });
    await eventually(async () => !(await introspect(token, introspector)), 'inactive at the resource server’s introspection');
    assert.equal(await introspect(token, service), false, 'at its own client’s introspection');
  });
});
