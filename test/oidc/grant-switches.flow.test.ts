import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import * as oidc from 'openid-client';

import { authorizationRequest, runBrowser } from '../helpers/browserless-login.ts';
import { startTestServer, type TestDeclaration, type TestServer } from '../helpers/test-server.ts';
import { basicAuth, postAsClient } from '../helpers/token-endpoint.ts';

// GRANT_TYPES turns grant types off per deployment (README "Grant types"): discovery
// advertises exactly what is on, a grant that is off is unsupported_grant_type for every
// client (also one registered for it, which keeps its other grants), and nothing of it is
// issued by another way (no refresh token beside a code, no code at /auth).

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const REDIRECT = 'http://localhost:8080/callback';
const PASSWORD = 'a long and correct password';
const API = 'https://api.example.com';

const declaration: TestDeclaration = {
  resources: [{ indicator: API, name: 'API', scopes: [{ name: 'read', description: 'Read' }] }],
  clients: [
    // Registered for everything: each deployment cuts it to what it serves.
    { type: 'web', clientId: 'web-app', name: 'Web App', redirectUris: [REDIRECT], grantTypes: ['authorization_code', 'refresh_token'], scopes: ['openid', 'email', 'offline_access'] },
    { type: 'service', clientId: 'batch', name: 'Batch', resources: [API], scopes: ['read'] },
    // Registered for no OIDC scope but offline access (and, with refresh off, for none at all).
    { type: 'web', clientId: 'narrow', name: 'Narrow', redirectUris: [REDIRECT], resources: [API], scopes: ['offline_access', 'read'] },
    { type: 'web', clientId: 'api-only', name: 'API only', redirectUris: [REDIRECT], resources: [API], scopes: ['read'] },
  ],
  users: [{ email: 'grants@example.com', name: 'Grants', password: PASSWORD }],
};

async function discovery(server: TestServer): Promise<Record<string, unknown>> {
  return (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
}

async function tokenError(response: Response): Promise<string> {
  assert.equal(response.status, 400);
  return ((await response.json()) as { error: string }).error;
}

/** Where an authorization request of `clientId` for `scope` goes first: back to the app with an error, or on to sign in. */
async function firstAnswer(server: TestServer, clientId: string, scope: string): Promise<string> {
  const request = authorizationRequest(server.issuer, { client_id: clientId, redirect_uri: REDIRECT, scope });
  const response = await fetch(request.url, { redirect: 'manual' });
  const location = new URL(response.headers.get('location') ?? '/', server.issuer);
  return location.origin + location.pathname === REDIRECT ? (location.searchParams.get('error') ?? 'code') : `${response.status} ${location.pathname.replace(/\/[^/]+$/, '/:uid')}`;
}

function batchToken(server: TestServer): Promise<Response> {
  return postAsClient(`${server.issuer}/token`, basicAuth('batch', server.declared.clientSecret('batch')), { grant_type: 'client_credentials', resource: API, scope: 'read' });
}

describe('GRANT_TYPES unset: the default grants, and the device flow with DEVICE_FLOW', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ LOG_LEVEL: 'warn', DEVICE_FLOW: 'true' }, { declare: declaration });
  });
  after(async () => {
    await server?.close();
  });

  test('discovery advertises exactly the four, the authorization code and offline_access', async () => {
    const metadata = await discovery(server);
    assert.deepEqual([...(metadata.grant_types_supported as string[])].sort(), ['authorization_code', 'client_credentials', 'refresh_token', DEVICE_GRANT].sort());
    assert.deepEqual(metadata.response_types_supported, ['code']);
    assert.ok((metadata.scopes_supported as string[]).includes('offline_access'));
    assert.equal((await batchToken(server)).status, 200);
  });

  test('a client registered for no OIDC scope may not ask for one: invalid_scope before any sign-in', async () => {
    assert.equal(await firstAnswer(server, 'api-only', 'openid email'), 'invalid_scope');
    assert.equal(await firstAnswer(server, 'narrow', 'openid'), 'invalid_scope');
    assert.equal(await firstAnswer(server, 'web-app', 'openid email'), '303 /interaction/:uid', 'a client registered for them goes on to sign in');
  });

  test('a grant the deployment serves but the client is not registered for is unauthorized_client (RFC 6749 5.2)', async () => {
    const webApp = basicAuth('web-app', server.declared.clientSecret('web-app'));
    const response = await postAsClient(`${server.issuer}/token`, webApp, { grant_type: 'client_credentials', resource: API, scope: 'read' });
    assert.equal(await tokenError(response), 'unauthorized_client');
  });
});

describe('GRANT_TYPES=authorization_code: people sign in to apps, nothing else', () => {
  let server: TestServer;
  let app: oidc.Configuration;
  before(async () => {
    server = await startTestServer({ LOG_LEVEL: 'warn', GRANT_TYPES: 'authorization_code' }, { declare: declaration });
    app = await oidc.discovery(new URL(server.issuer), 'web-app', undefined, oidc.ClientSecretBasic(server.declared.clientSecret('web-app')), { execute: [oidc.allowInsecureRequests] });
  });
  after(async () => {
    await server?.close();
  });

  test('discovery advertises only the authorization code, no offline_access and no device endpoint', async () => {
    const metadata = await discovery(server);
    assert.deepEqual(metadata.grant_types_supported, ['authorization_code']);
    assert.ok(!(metadata.scopes_supported as string[]).includes('offline_access'));
    assert.equal(metadata.device_authorization_endpoint, undefined);
  });

  test('an app registered for refresh tokens that asks for offline_access with consent gets a code and tokens, but no refresh token', async () => {
    const request = authorizationRequest(server.issuer, { client_id: 'web-app', redirect_uri: REDIRECT, scope: 'openid email offline_access', prompt: 'consent' });
    const result = await runBrowser(request.url, { email: 'grants@example.com', password: PASSWORD });
    const tokens = await oidc.authorizationCodeGrant(app, result.url, { pkceCodeVerifier: request.verifier, expectedState: request.state });
    assert.ok(tokens.access_token);
    assert.equal(tokens.refresh_token, undefined);
    assert.ok(!(tokens.scope ?? '').split(' ').includes('offline_access'), `scope: ${tokens.scope ?? ''}`);
  });

  test('turning refresh off does not widen a client whose only OIDC scope was offline_access: openid is still refused', async () => {
    assert.equal(await firstAnswer(server, 'narrow', 'openid email'), 'invalid_scope');
    assert.equal(await firstAnswer(server, 'narrow', 'read'), '303 /interaction/:uid');
  });

  test('client credentials, refresh and the device grant are unsupported_grant_type, also for a client registered for them', async () => {
    assert.equal(await tokenError(await batchToken(server)), 'unsupported_grant_type');
    const webApp = basicAuth('web-app', server.declared.clientSecret('web-app'));
    assert.equal(await tokenError(await postAsClient(`${server.issuer}/token`, webApp, { grant_type: 'refresh_token', refresh_token: 'anything' })), 'unsupported_grant_type');
    assert.equal(await tokenError(await postAsClient(`${server.issuer}/token`, webApp, { grant_type: DEVICE_GRANT, device_code: 'anything' })), 'unsupported_grant_type');
    const device = await fetch(`${server.issuer}/device/auth`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'client_id=web-app&scope=openid' });
    assert.equal(device.status, 404);
  });
});

describe('GRANT_TYPES=client_credentials: a machine-to-machine deployment', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ LOG_LEVEL: 'warn', GRANT_TYPES: 'client_credentials' }, { declare: declaration });
  });
  after(async () => {
    await server?.close();
  });

  test('discovery advertises only client credentials and no response type that issues anything', async () => {
    const metadata = await discovery(server);
    assert.deepEqual(metadata.grant_types_supported, ['client_credentials']);
    assert.deepEqual(metadata.response_types_supported, ['none']);
    assert.equal((await batchToken(server)).status, 200);
  });

  test('an authorization request for a code is refused before any sign-in, and the code grant is unsupported_grant_type', async () => {
    const request = authorizationRequest(server.issuer, { client_id: 'web-app', redirect_uri: REDIRECT, scope: 'openid email' });
    const response = await fetch(request.url, { redirect: 'manual' });
    // Refused by the engine itself, back to the app (its redirect URI is registered): never a login page.
    assert.equal(response.status, 303);
    const back = new URL(response.headers.get('location') ?? '', server.issuer);
    assert.equal(back.origin + back.pathname, REDIRECT);
    assert.equal(back.searchParams.get('code'), null);
    assert.equal(back.searchParams.get('error'), 'unsupported_response_type');
    const webApp = basicAuth('web-app', server.declared.clientSecret('web-app'));
    assert.equal(await tokenError(await postAsClient(`${server.issuer}/token`, webApp, { grant_type: 'authorization_code', code: 'anything', redirect_uri: REDIRECT, code_verifier: 'a'.repeat(43) })), 'unsupported_grant_type');
  });
});
