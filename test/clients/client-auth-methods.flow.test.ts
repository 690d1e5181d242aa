import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';

import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import * as oidc from 'openid-client';

import { runBrowser } from '../helpers/browserless-login.ts';
import { basicAuth, postAsClient } from '../helpers/token-endpoint.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// How clients authenticate, as third-party libraries do it by default: the secret in the
// body (client_secret_post: requests-oauthlib, Go's x/oauth2 auto-detection, many MCP
// clients), a JWT signed with the client's own key (private_key_jwt, RFC 7523) with the
// public keys registered inline or at a URL, and the default, HTTP Basic. The engine
// decides what a presentation proves: it treats the two ways of sending a secret as one
// (either is accepted from a client registered with a secret), while a client that signs
// with its key has no secret, and a public client none either.

const API = 'https://api.example.com';
const REDIRECT = 'http://localhost:8080/callback';
const PERSON = { email: 'kim@example.com', password: 'kim has a long password' };
const insecure = { execute: [oidc.allowInsecureRequests] };

let server: TestServer;
let jwksServer: Server;
let jwksUrl: string;
let post: { id: string; secret: string };
let basic: { id: string; secret: string };
let inline: { id: string; key: CryptoKey; kid: string };
let published: { id: string; key: CryptoKey; kid: string };
let webPost: { id: string; secret: string };
let introspector: { id: string; secret: string };

before(async () => {
  // The engine fetches jwks_uri with its SSRF guard: this one lives on the loopback.
  server = await startTestServer({ OUTBOUND_PRIVATE_NETWORKS: 'true' });
  const { accounts, clients, resources } = server.services;
  await accounts.create({ ...PERSON, name: 'Kim' });
  await resources.create({ indicator: API, name: 'API', scopes: [{ name: 'read' }], accessTokenFormat: 'opaque' });

  const service = async (input: Record<string, unknown>) => {
    const created = await clients.create({ type: 'service', name: 'Service', resources: [API], scopes: ['read'], ...input });
    return { id: created.client.clientId, secret: created.clientSecret! };
  };
  post = await service({ authMethod: 'client_secret_post' });
  basic = await service({});

  const inlineKeys = await generateKeyPair('ES256', { extractable: true });
  const inlineJwk = { ...(await exportJWK(inlineKeys.publicKey)), kid: 'inline-1', alg: 'ES256', use: 'sig' };
  const inlineClient = await clients.create({ type: 'service', name: 'Signer', resources: [API], scopes: ['read'], authMethod: 'private_key_jwt', jwks: { keys: [inlineJwk] } });
  assert.equal(inlineClient.clientSecret, undefined, 'a private_key_jwt client gets no secret');
  inline = { id: inlineClient.client.clientId, key: inlineKeys.privateKey, kid: 'inline-1' };

  const publishedKeys = await generateKeyPair('RS256', { extractable: true, modulusLength: 2048 });
  const publishedJwk = { ...(await exportJWK(publishedKeys.publicKey)), kid: 'published-1' };
  jwksServer = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: [publishedJwk] }));
  });
  await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
  const publishedClient = await clients.create({ type: 'service', name: 'Publisher', resources: [API], scopes: ['read'], authMethod: 'private_key_jwt', jwksUri: jwksUrl });
  published = { id: publishedClient.client.clientId, key: publishedKeys.privateKey, kid: 'published-1' };

  const web = await clients.create({ type: 'web', name: 'Web', redirectUris: [REDIRECT], authMethod: 'client_secret_post', scopes: ['openid', 'email', 'offline_access'] });
  webPost = { id: web.client.clientId, secret: web.clientSecret! };
  const rs = await clients.create({ type: 'resource-server', name: 'API', resources: [API], authMethod: 'client_secret_post' });
  introspector = { id: rs.client.clientId, secret: rs.clientSecret! };
});

after(async () => {
  await server?.close();
  jwksServer?.closeAllConnections();
  await new Promise<void>((resolve) => (jwksServer ? jwksServer.close(() => resolve()) : resolve()));
});

async function tokenResponse(fields: Record<string, string>, authorization?: string) {
  const response = await fetch(`${server.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(authorization && { authorization }) },
    body: new URLSearchParams(fields),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** A client assertion as RFC 7523 §3 describes it, for the token endpoint. */
function assertion(client: { id: string; key: CryptoKey; kid: string }, audience = server.issuer): Promise<string> {
  return new SignJWT({ jti: crypto.randomUUID() })
    .setProtectedHeader({ alg: client.key.algorithm.name === 'ECDSA' ? 'ES256' : 'RS256', kid: client.kid })
    .setIssuer(client.id)
    .setSubject(client.id)
    .setAudience(audience)
    .setIssuedAt()
    .setExpirationTime('1m')
    .sign(client.key);
}

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

describe('discovery', () => {
  test('advertises exactly the methods clients can register, and only asymmetric assertion algorithms', async () => {
    const metadata = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as Record<string, string[]>;
    const methods = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'];
    assert.deepEqual(metadata.token_endpoint_auth_methods_supported, methods);
    assert.ok(metadata.token_endpoint_auth_signing_alg_values_supported?.includes('ES256'));
    assert.ok(metadata.token_endpoint_auth_signing_alg_values_supported?.every((alg) => !alg.startsWith('HS')));
  });
});

describe('client_secret_post', () => {
  test('openid-client with ClientSecretPost gets a client-credentials token', async () => {
    const configuration = await oidc.discovery(new URL(server.issuer), post.id, undefined, oidc.ClientSecretPost(post.secret), insecure);
    const tokens = await oidc.clientCredentialsGrant(configuration, { scope: 'read', resource: API });
    assert.equal(tokens.scope, 'read');
  });

  test('a wrong secret in the body is invalid_client', async () => {
    const { status, body } = await tokenResponse({ grant_type: 'client_credentials', client_id: post.id, client_secret: `${post.secret}x`, scope: 'read' });
    assert.equal(status, 401);
    assert.equal(body.error, 'invalid_client');
  });

  test('the engine treats a secret in the Basic header and in the body alike: each is checked the same way', async () => {
    // oidc-provider 9 accepts either presentation of a secret from a client registered with one.
    const right = await tokenResponse({ grant_type: 'client_credentials', scope: 'read' }, basicAuth(post.id, post.secret));
    assert.equal(right.status, 200);
    const wrong = await tokenResponse({ grant_type: 'client_credentials', scope: 'read' }, basicAuth(post.id, `${post.secret}x`));
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.error, 'invalid_client');
    const inBody = await tokenResponse({ grant_type: 'client_credentials', client_id: basic.id, client_secret: basic.secret, scope: 'read' });
    assert.equal(inBody.status, 200);
    const both = await tokenResponse({ grant_type: 'client_credentials', client_id: post.id, client_secret: post.secret, scope: 'read' }, basicAuth(post.id, post.secret));
    assert.equal(both.status, 400, 'one mechanism at a time');
    assert.equal(both.body.error, 'invalid_request');
  });

  test('a public client cannot present a secret, and a confidential one cannot go without', async () => {
    const spa = await server.services.clients.create({ type: 'spa', name: 'SPA', redirectUris: [REDIRECT] });
    const withSecret = await tokenResponse({ grant_type: 'authorization_code', code: 'x', redirect_uri: REDIRECT, code_verifier: 'v'.repeat(43), client_id: spa.client.clientId, client_secret: 'made-up' });
    assert.equal(withSecret.status, 401);
    assert.equal(withSecret.body.error, 'invalid_client');
    const without = await tokenResponse({ grant_type: 'client_credentials', client_id: post.id, scope: 'read' });
    assert.equal(without.status, 401);
    assert.equal(without.body.error, 'invalid_client');
  });

  test('a web client completes the authorization code flow and refreshes with the secret in the body', async () => {
    const configuration = await oidc.discovery(new URL(server.issuer), webPost.id, undefined, oidc.ClientSecretPost(webPost.secret), insecure);
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(configuration, {
      redirect_uri: REDIRECT,
      scope: 'openid email offline_access',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      prompt: 'consent',
    });
    const browser = await runBrowser(url, { ...PERSON });
    const tokens = await oidc.authorizationCodeGrant(configuration, browser.url, { pkceCodeVerifier: verifier, expectedState: oidc.skipStateCheck });
    assert.ok(tokens.claims()?.sub);
    const refreshed = await oidc.refreshTokenGrant(configuration, tokens.refresh_token!);
    assert.ok(refreshed.access_token);
  });

  test('a resource server introspects with the secret in the body', async () => {
    const issued = await tokenResponse({ grant_type: 'client_credentials', scope: 'read' }, basicAuth(basic.id, basic.secret));
    const response = await postAsClient(`${server.issuer}/token/introspection`, '', { token: issued.body.access_token as string, client_id: introspector.id, client_secret: introspector.secret });
    assert.equal(response.status, 200);
    assert.equal(((await response.json()) as { active: boolean }).active, true);
  });
});

describe('private_key_jwt', () => {
  test('openid-client with PrivateKeyJwt gets a token with keys registered inline', async () => {
    const configuration = await oidc.discovery(new URL(server.issuer), inline.id, undefined, oidc.PrivateKeyJwt({ key: inline.key, kid: inline.kid }), insecure);
    const tokens = await oidc.clientCredentialsGrant(configuration, { scope: 'read', resource: API });
    assert.equal(tokens.scope, 'read');
  });

  test('and with keys published at a jwks_uri', async () => {
    const { status, body } = await tokenResponse({ grant_type: 'client_credentials', scope: 'read', client_assertion_type: ASSERTION_TYPE, client_assertion: await assertion(published) });
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.scope, 'read');
  });

  test('an assertion signed by another key, a replayed one, or one for another audience is invalid_client', async () => {
    const stranger = await generateKeyPair('ES256');
    const forged = await assertion({ ...inline, key: stranger.privateKey });
    const once = await assertion(inline);
    const elsewhere = await assertion(inline, 'https://other-issuer.example');
    for (const [name, clientAssertion] of [['forged', forged], ['first use', once], ['replay', once], ['audience', elsewhere]] as const) {
      const { status, body } = await tokenResponse({ grant_type: 'client_credentials', scope: 'read', client_assertion_type: ASSERTION_TYPE, client_assertion: clientAssertion });
      if (name === 'first use') {
        assert.equal(status, 200, JSON.stringify(body));
        continue;
      }
      assert.equal(status, 401, name);
      assert.equal(body.error, 'invalid_client', name);
    }
  });

  test('a private_key_jwt client has no secret to authenticate with', async () => {
    const guess = await tokenResponse({ grant_type: 'client_credentials', scope: 'read' }, basicAuth(inline.id, 'any secret at all'));
    assert.equal(guess.status, 401);
    assert.equal(guess.body.error, 'invalid_client');
  });
});
