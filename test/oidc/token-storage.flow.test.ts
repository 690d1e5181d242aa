import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import * as oidc from 'openid-client';

import { runBrowser } from '../helpers/browserless-login.ts';
import { basicAuth, postAsClient } from '../helpers/token-endpoint.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// A read-only copy of the database must yield no live credential: refresh and access
// tokens, codes and session ids are kept only as hashes.

const REDIRECT = 'http://localhost:8080/callback';
const OPAQUE_API = 'https://opaque.example.com';
const USER = { email: 'sam@example.com', password: 'sam password 12345' };
const insecure = { execute: [oidc.allowInsecureRequests] };

let server: TestServer;

before(async () => {
  server = await startTestServer();
  await server.services.accounts.create({ email: USER.email, name: 'Sam', password: USER.password });
  await server.services.resources.create({ indicator: OPAQUE_API, name: 'Opaque', scopes: [{ name: 'read' }], accessTokenFormat: 'opaque' });
});

after(async () => {
  await server?.close();
});

/** Every row of every table the engine's data lives in, as one text. */
async function dumpDatabase(): Promise<string> {
  const tables = await server.database.prisma.$queryRawUnsafe<{ tablename: string }[]>(
    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
  );
  const parts: string[] = [];
  for (const { tablename } of tables) {
    parts.push(JSON.stringify(await server.database.prisma.$queryRawUnsafe(`SELECT * FROM "${tablename}"`), (_key, value: unknown) =>
      typeof value === 'bigint' ? value.toString() : value,
    ));
  }
  return parts.join('\n');
}

describe('what the database holds', () => {
  test('no refresh token, access token, code or session id appears anywhere in it', async () => {
    const web = await server.services.clients.create({
      type: 'web',
      name: 'Storage app',
      redirectUris: [REDIRECT],
      resources: [OPAQUE_API],
      scopes: ['openid', 'offline_access', 'read'],
    });
    const service = await server.services.clients.create({ type: 'service', name: 'Storage service', resources: [OPAQUE_API], scopes: ['read'] });
    const configuration = await oidc.discovery(new URL(server.issuer), web.client.clientId, undefined, oidc.ClientSecretBasic(web.clientSecret), insecure);
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(configuration, {
      redirect_uri: REDIRECT,
      scope: 'openid offline_access read',
      resource: OPAQUE_API,
      prompt: 'consent',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const browser = await runBrowser(url, { email: USER.email, password: USER.password });
    const code = browser.url.searchParams.get('code')!;
    const tokens = await oidc.authorizationCodeGrant(configuration, browser.url, { pkceCodeVerifier: verifier, expectedState: oidc.skipStateCheck });
    const rotated = await oidc.refreshTokenGrant(configuration, tokens.refresh_token!);
    const machine = (await (
      await postAsClient(`${server.issuer}/token`, basicAuth(service.client.clientId, service.clientSecret!), {
        grant_type: 'client_credentials',
        resource: OPAQUE_API,
        scope: 'read',
      })
    ).json()) as { access_token: string };

    const secrets = {
      code,
      'access token': tokens.access_token,
      'refresh token': tokens.refresh_token!,
      'rotated access token': rotated.access_token,
      'rotated refresh token': rotated.refresh_token!,
      'client credentials token': machine.access_token,
      'session id': browser.jar.get('_session')!,
    };
    const dump = await dumpDatabase();
    for (const [name, value] of Object.entries(secrets)) {
      assert.ok(value && value.length >= 20, `${name} was issued`);
      assert.equal(dump.includes(value), false, `the ${name} is not stored`);
    }
    // And they still work: stored hashed, found by their value.
    const introspect = async (clientId: string, secret: string, token: string) =>
      ((await (await postAsClient(`${server.issuer}/token/introspection`, basicAuth(clientId, secret), { token })).json()) as { active: boolean }).active;
    assert.equal(await introspect(web.client.clientId, web.clientSecret!, rotated.refresh_token!), true);
    assert.equal(await introspect(web.client.clientId, web.clientSecret!, rotated.access_token), true);
    assert.equal(await introspect(service.client.clientId, service.clientSecret!, machine.access_token), true);
  });
});
