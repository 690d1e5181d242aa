import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import * as oidc from 'openid-client';

import { authorizationRequest, runBrowser } from '../helpers/browserless-login.ts';
import { TEST_ENGINE } from '../helpers/test-database.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';
import { basicAuth, postAsClient } from '../helpers/token-endpoint.ts';

// Tokens issued while a grant type was on, then presented to an instance where GRANT_TYPES
// turned it off (a rolling change, or an operator switching it off): the engine no longer
// looks such tokens up, so a revocation there must still take them away, or they would work
// again on an instance (or a day) with the grant back on. Two instances of one deployment,
// so Postgres only (an embedded database serves one process).

const REDIRECT = 'http://localhost:8080/callback';
const PASSWORD = 'a long and correct password';
const API = 'https://api.example.com';

describe('tokens of a grant type switched off since they were issued', { skip: TEST_ENGINE !== 'postgres' && 'two instances of one deployment need Postgres' }, () => {
  let on: TestServer;
  let off: TestServer;
  const as = (clientId: string) => basicAuth(clientId, on.declared.clientSecret(clientId));

  before(async () => {
    on = await startTestServer({ LOG_LEVEL: 'warn' }, {
      declare: {
        resources: [{ indicator: API, name: 'API', scopes: [{ name: 'read', description: 'Read' }], accessTokenFormat: 'opaque' }],
        clients: [
          { type: 'web', clientId: 'web-app', name: 'Web App', redirectUris: [REDIRECT], scopes: ['openid', 'offline_access'] },
          { type: 'service', clientId: 'batch', name: 'Batch', resources: [API], scopes: ['read'] },
        ],
        users: [{ email: 'later@example.com', name: 'Later', password: PASSWORD }],
      },
    });
    off = await startTestServer({ LOG_LEVEL: 'warn', GRANT_TYPES: 'authorization_code' }, { sameDatabaseAs: on });
  });
  after(async () => {
    await off?.close();
    await on?.close();
  });

  test('a refresh token revoked where refresh is off no longer refreshes where it is on', async () => {
    const app = await oidc.discovery(new URL(on.issuer), 'web-app', undefined, oidc.ClientSecretBasic(on.declared.clientSecret('web-app')), { execute: [oidc.allowInsecureRequests] });
    const request = authorizationRequest(on.issuer, { client_id: 'web-app', redirect_uri: REDIRECT, scope: 'openid offline_access', prompt: 'consent' });
    const result = await runBrowser(request.url, { email: 'later@example.com', password: PASSWORD });
    const tokens = await oidc.authorizationCodeGrant(app, result.url, { pkceCodeVerifier: request.verifier, expectedState: request.state });
    assert.ok(tokens.refresh_token);

    const refused = await postAsClient(`${off.issuer}/token`, as('web-app'), { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    assert.equal(((await refused.json()) as { error: string }).error, 'unsupported_grant_type');
    // Another client may not revoke it, here either.
    const stranger = await postAsClient(`${off.issuer}/token/revocation`, as('batch'), { token: tokens.refresh_token });
    assert.equal(stranger.status, 400);
    assert.equal((await postAsClient(`${off.issuer}/token/revocation`, as('web-app'), { token: tokens.refresh_token })).status, 200);

    const afterwards = await postAsClient(`${on.issuer}/token`, as('web-app'), { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    assert.equal(afterwards.status, 400);
    assert.equal(((await afterwards.json()) as { error: string }).error, 'invalid_grant');
    // Revoked as the engine revokes a refresh token: with its grant, so its access token too.
    const introspected = (await (await postAsClient(`${on.issuer}/token/introspection`, as('web-app'), { token: tokens.access_token })).json()) as { active: boolean };
    assert.equal(introspected.active, false);
  });

  test('a client-credentials token is refused where the grant is off, and revoked there for good', async () => {
    const issued = await postAsClient(`${on.issuer}/token`, as('batch'), { grant_type: 'client_credentials', resource: API, scope: 'read' });
    const { access_token: token } = (await issued.json()) as { access_token: string };
    assert.ok(!token.includes('.'), 'an opaque token');
    const introspectedOff = (await (await postAsClient(`${off.issuer}/token/introspection`, as('batch'), { token })).json()) as { active: boolean };
    assert.equal(introspectedOff.active, false);
    assert.equal((await postAsClient(`${off.issuer}/token/revocation`, as('batch'), { token })).status, 200);
    const introspectedOn = (await (await postAsClient(`${on.issuer}/token/introspection`, as('batch'), { token })).json()) as { active: boolean };
    assert.equal(introspectedOn.active, false);
  });
});
