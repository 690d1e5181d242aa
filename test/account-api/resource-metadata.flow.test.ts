import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';

import * as oauth from 'oauth4webapi';
import * as oidc from 'openid-client';

import { DPOP_SIGNING_ALGS } from '../../src/account-api/verify-dpop-proof.ts';
import { runBrowser } from '../helpers/browserless-login.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// The account API described by RFC 9728 protected-resource metadata, and found from its
// own 401 (section 5.1): what an MCP client does when all it knows is the URL of the thing
// it wants to call. Every field is checked against the running server's registry and
// configuration, and the whole walk runs over real HTTP with real client libraries:
// 401 -> resource_metadata -> authorization server metadata -> PKCE + resource -> the API.

const REDIRECT = 'http://127.0.0.1:8719/callback';
const insecure = { [oauth.allowInsecureRequests]: true };

let server: TestServer;
let resource: string;
let metadataUrl: string;
const person = { email: 'walker@example.com', password: 'a long enough password for the walk' };

before(async () => {
  server = await startTestServer({ LOG_LEVEL: 'warn' }, {
    declare: (issuer) => ({
      clients: [{ clientId: 'agent', type: 'native', name: 'Agent', redirectUris: [REDIRECT], resources: [`${issuer}/api`], scopes: ['account:read'] }],
      users: [{ email: person.email, name: 'Walker', password: person.password }],
    }),
  });
  resource = `${server.issuer}/api`;
  metadataUrl = `${server.issuer}/.well-known/oauth-protected-resource/api`;
});

after(async () => {
  await server?.close();
});

/** The parameters of each challenge of a 401 or 403, as oauth4webapi parses them. */
async function challengesOf(accessToken: string, headers?: Headers): Promise<oauth.WWWAuthenticateChallenge[]> {
  try {
    const response = await oauth.protectedResourceRequest(accessToken, 'GET', new URL(`${resource}/me`), headers, null, insecure);
    throw new Error(`expected a challenge, got ${response.status}`);
  } catch (error) {
    assert.ok(error instanceof oauth.WWWAuthenticateChallengeError, String(error));
    return error.cause;
  }
}

describe('the account API’s protected-resource metadata (RFC 9728)', () => {
  test('is where section 3.1 puts it for the API’s identifier, and says what the running server does', async () => {
    // oauth4webapi builds the well-known URL from the identifier and checks `resource` (3.3).
    const response = await oauth.resourceDiscoveryRequest(new URL(resource), insecure);
    assert.equal(response.url, metadataUrl);
    assert.equal(response.headers.get('cache-control'), 'public, max-age=300');
    const metadata = await oauth.processResourceDiscoveryResponse(new URL(resource), response);

    const registered = await server.services.resources.get(resource);
    const discovery = (await (await fetch(`${server.issuer}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    assert.deepEqual(metadata, {
      resource,
      resource_name: registered.name,
      authorization_servers: [server.config.issuer],
      scopes_supported: registered.scopes.map((scope) => scope.name),
      bearer_methods_supported: ['header'],
      dpop_signing_alg_values_supported: [...DPOP_SIGNING_ALGS],
    });
    // The API accepts the proofs the authorization server binds tokens with.
    assert.deepEqual(metadata.dpop_signing_alg_values_supported, discovery.dpop_signing_alg_values_supported);
    // (Its scopes are the resource server's, which the authorization server's discovery does
    // not list: it names the OpenID scopes only. The walk below gets a token with one.)
  });

  test('the bare well-known path serves the same document (where MCP clients look last)', async () => {
    const bare = await fetch(`${server.issuer}/.well-known/oauth-protected-resource`);
    const suffixed = await fetch(metadataUrl);
    assert.equal(bare.status, 200);
    assert.deepEqual(await bare.json(), await suffixed.json());
  });

  test('follows the registry: a scope an operator adds is advertised, one removed is not', async () => {
    const before = await server.services.resources.get(resource);
    const scopes = before.scopes.map((scope) => ({ name: scope.name, description: scope.description, roles: [...scope.roles] }));
    await server.services.resources.update(resource, { scopes: [...scopes, { name: 'account:audit', description: 'See your sign-in history' }] });
    try {
      const changed = (await (await fetch(metadataUrl)).json()) as { scopes_supported: string[] };
      assert.deepEqual(changed.scopes_supported, [...scopes.map((scope) => scope.name), 'account:audit'].sort());
    } finally {
      await server.services.resources.update(resource, { scopes });
    }
    const restored = (await (await fetch(metadataUrl)).json()) as { scopes_supported: string[] };
    assert.deepEqual(restored.scopes_supported, scopes.map((scope) => scope.name));
  });

  test('an unknown path under it is not found, in OAuth’s error shape', async () => {
    const response = await fetch(`${server.issuer}/.well-known/oauth-protected-resource/other`);
    assert.equal(response.status, 404);
    assert.equal(((await response.json()) as { error: string }).error, 'not_found');
  });
});

describe('a refusal of the account API points to the metadata (RFC 9728 section 5.1)', () => {
  test('no token: both challenges name resource_metadata, with nothing else changed', async () => {
    const response = await fetch(`${resource}/me`);
    await response.body?.cancel();
    assert.equal(response.status, 401);
    assert.equal(
      response.headers.get('www-authenticate'),
      `Bearer realm="portcullis", resource_metadata="${metadataUrl}", DPoP realm="portcullis", resource_metadata="${metadataUrl}", algs="${DPOP_SIGNING_ALGS.join(' ')}"`,
    );
  });

  test('an invalid token: invalid_token, its description and resource_metadata, parsed by a client library', async () => {
    const [challenge, ...rest] = await challengesOf('not-a-token-this-server-issued');
    assert.equal(rest.length, 0);
    assert.equal(challenge?.scheme, 'bearer');
    assert.equal(challenge?.parameters.error, 'invalid_token');
    assert.equal(challenge?.parameters.realm, 'portcullis');
    assert.equal(challenge?.parameters.resource_metadata, metadataUrl);
    assert.equal(typeof challenge?.parameters.error_description, 'string');
  });

  test('a DPoP refusal keeps its algs and error alongside resource_metadata', async () => {
    // The DPoP scheme without a proof header.
    const response = await fetch(`${resource}/me`, { headers: { authorization: 'DPoP some-token' } });
    await response.body?.cancel();
    assert.equal(response.status, 401);
    const header = response.headers.get('www-authenticate') ?? '';
    assert.match(header, /^DPoP realm="portcullis", resource_metadata="[^"]+", error="invalid_dpop_proof", error_description="[^"]+", algs="[^"]+"$/);
    assert.ok(header.includes(`resource_metadata="${metadataUrl}"`));
  });
});

/** A GET with a Host header of the sender's choosing (fetch would not send it). */
function getWithHost(path: string, host: string): Promise<{ status: number; challenge: string; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(new URL(path, server.issuer), { headers: { host } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, challenge: [response.headers['www-authenticate'] ?? []].flat().join(', '), body: Buffer.concat(chunks).toString() }),
      );
    });
    request.on('error', reject);
    request.end();
  });
}

describe('the metadata and the challenges name the configured issuer, whatever Host says', () => {
  test('a forged Host changes neither the document nor resource_metadata', async () => {
    const document = await getWithHost('/.well-known/oauth-protected-resource/api', 'evil.example');
    assert.equal(document.status, 200);
    assert.ok(!document.body.includes('evil.example'), document.body);
    assert.equal((JSON.parse(document.body) as { resource: string }).resource, resource);
    const refused = await getWithHost('/api/me', 'evil.example');
    assert.equal(refused.status, 401);
    assert.ok(!refused.challenge.includes('evil.example'), refused.challenge);
    assert.ok(refused.challenge.includes(`resource_metadata="${metadataUrl}"`));
  });
});

describe('an MCP-style client starting from a 401', () => {
  test('finds the authorization server, gets a token for the API with PKCE and the resource, and calls it', async () => {
    const target = new URL(`${resource}/me`);
    // 1. The call, unauthenticated. The challenge names the metadata.
    const refused = await fetch(target);
    await refused.body?.cancel();
    assert.equal(refused.status, 401);
    const pointer = /resource_metadata="([^"]+)"/.exec(refused.headers.get('www-authenticate') ?? '')?.[1];
    assert.ok(pointer);

    // 2. The metadata: its resource is the called URL's origin with a path prefix of it (the
    //    rule of draft-ietf-oauth-rfc9728bis and of MCP clients; RFC 9728 3.3 asked for the
    //    exact URL, which an API of many paths cannot give). Then RFC 9728's own check.
    const metadataResponse = await fetch(pointer);
    const named = new URL(((await metadataResponse.clone().json()) as { resource: string }).resource);
    assert.equal(named.origin, target.origin);
    assert.ok(target.pathname === named.pathname || target.pathname.startsWith(`${named.pathname}/`));
    const metadata = await oauth.processResourceDiscoveryResponse(named, metadataResponse);
    const [authorizationServer] = metadata.authorization_servers ?? [];
    assert.ok(authorizationServer);

    // 3. The authorization server's RFC 8414 metadata, through openid-client.
    const config = await oidc.discovery(new URL(authorizationServer), 'agent', undefined, oidc.None(), {
      algorithm: 'oauth2',
      execute: [oidc.allowInsecureRequests],
    });
    assert.equal(config.serverMetadata().issuer, authorizationServer);
    assert.ok(config.serverMetadata().code_challenge_methods_supported?.includes('S256'));

    // 4. Authorization code with PKCE, for this resource and a scope it advertises.
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: 'account:read',
      resource: metadata.resource,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    });
    assert.ok(metadata.scopes_supported?.includes('account:read'));
    const browser = await runBrowser(url, person);
    const tokens = await oidc.authorizationCodeGrant(config, browser.url, { pkceCodeVerifier: verifier, expectedState: state });

    // 5. The call again, now authorized.
    const answer = await oidc.fetchProtectedResource(config, tokens.access_token, target, 'GET');
    assert.equal(answer.status, 200);
    assert.equal(((await answer.json()) as { email: string }).email, person.email);

    // 6. A call its scope does not cover: 403 insufficient_scope naming the scope, and still
    //    the metadata, to ask again for more.
    await assert.rejects(
      () => oidc.fetchProtectedResource(config, tokens.access_token, new URL(`${resource}/grants/some-grant`), 'DELETE'),
      (error: unknown) => {
        assert.ok(error instanceof oidc.WWWAuthenticateChallengeError, String(error));
        assert.equal(error.response?.status, 403);
        const [challenge] = error.cause;
        assert.equal(challenge?.parameters.error, 'insufficient_scope');
        assert.equal(challenge?.parameters.scope, 'account:write');
        assert.equal(challenge?.parameters.resource_metadata, metadataUrl);
        return true;
      },
    );
  });
});
