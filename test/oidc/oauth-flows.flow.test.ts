import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import * as oidc from 'openid-client';

import { hashTokenId } from '../../src/oidc/index.ts';
import { confirmLogout, runBrowser } from '../helpers/browserless-login.ts';
import { basicAuth, postAsClient } from '../helpers/token-endpoint.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// The protocol through a real client library against a real HTTP server and database:
// what a third-party app experiences.

const REDIRECT = 'http://localhost:8080/callback';
const LOGOUT_REDIRECT = 'http://localhost:8080/signed-out';
const EMAIL = 'ada@example.com';
const PASSWORD = 'correct horse battery staple';

const webClientId = 'web-app';
const spaClientId = 'spa';
const serviceClientId = 'batch-job';

let server: TestServer;
let webSecret: string;
let serviceSecret: string;
let accountId: string;

const insecure = { execute: [oidc.allowInsecureRequests] };

async function serviceClient(): Promise<oidc.Configuration> {
  return oidc.discovery(new URL(server.issuer), serviceClientId, undefined, oidc.ClientSecretBasic(serviceSecret), insecure);
}

async function webClient(): Promise<oidc.Configuration> {
  return oidc.discovery(new URL(server.issuer), webClientId, undefined, oidc.ClientSecretBasic(webSecret), insecure);
}

/** Signs the user in through the pages and returns where the browser landed, and the PKCE verifier. */
async function signInFor(configuration: oidc.Configuration, scope = 'openid') {
  const verifier = oidc.randomPKCECodeVerifier();
  const url = oidc.buildAuthorizationUrl(configuration, {
    redirect_uri: REDIRECT,
    scope,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  const browser = await runBrowser(url, { email: EMAIL, password: PASSWORD });
  return { browser, verifier };
}

async function codeFlow(configuration: oidc.Configuration, scope = 'openid email profile offline_access') {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(configuration, {
    redirect_uri: REDIRECT,
    scope,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    prompt: 'consent',
  });
  const browser = await runBrowser(url, { email: EMAIL, password: PASSWORD });
  const tokens = await oidc.authorizationCodeGrant(configuration, browser.url, {
    pkceCodeVerifier: verifier,
    expectedState: state,
  });
  return { tokens, browser, verifier };
}

before(async () => {
  server = await startTestServer({}, {
    declare: {
      users: [{ email: EMAIL, name: 'Ada Lovelace', password: PASSWORD, emailVerified: true }],
      resources: [
        {
          indicator: 'https://api.example.com',
          name: 'Example API',
          scopes: [{ name: 'read', description: 'Read your things' }, { name: 'write' }],
          accessTokenFormat: 'opaque',
        },
      ],
      clients: [
        {
          clientId: webClientId,
          type: 'web',
          name: 'Web app',
          redirectUris: [REDIRECT],
          postLogoutRedirectUris: [LOGOUT_REDIRECT],
          resources: ['https://api.example.com'],
          scopes: ['openid', 'email', 'profile', 'offline_access', 'read'],
        },
        { clientId: spaClientId, type: 'spa', name: 'SPA', redirectUris: [REDIRECT], corsOrigins: ['http://localhost:8080'] },
        { clientId: serviceClientId, type: 'service', name: 'Batch job', resources: ['https://api.example.com'], scopes: ['read'] },
      ],
    },
  });
  accountId = server.declared.accountId(EMAIL);
  webSecret = server.declared.clientSecret(webClientId);
  serviceSecret = server.declared.clientSecret(serviceClientId);
});

after(async () => {
  await server?.close();
});

describe('discovery', () => {
  test('advertises exactly the code flow with S256 PKCE, and the enabled endpoints', async () => {
    const configuration = await webClient();
    const metadata = configuration.serverMetadata();
    assert.equal(metadata.issuer, server.issuer);
    assert.deepEqual(metadata.response_types_supported, ['code']);
    assert.deepEqual(metadata.code_challenge_methods_supported, ['S256']);
    assert.deepEqual([...(metadata.grant_types_supported ?? [])].sort(), ['authorization_code', 'client_credentials', 'refresh_token']);
    assert.ok(metadata.introspection_endpoint);
    assert.ok(metadata.revocation_endpoint);
    assert.ok(metadata.end_session_endpoint);
    assert.equal(metadata.authorization_response_iss_parameter_supported, true);
  });

  test('publishes an RS256 and an ES256 public key and no private parts', async () => {
    const response = await fetch(`${server.issuer}/jwks`);
    const jwks = (await response.json()) as { keys: Record<string, unknown>[] };
    assert.deepEqual(jwks.keys.map((key) => key.alg).sort(), ['ES256', 'RS256']);
    for (const key of jwks.keys) assert.equal(key.d, undefined);
  });
});

describe('authorization code with PKCE', () => {
  test('a web client logs a user in and gets an ID token, access and refresh token', async () => {
    const configuration = await webClient();
    const { tokens, browser } = await codeFlow(configuration);
    assert.deepEqual(browser.pages, ['login', 'consent']);
    assert.equal(browser.url.searchParams.get('iss'), server.issuer);
    const claims = tokens.claims();
    assert.equal(claims?.sub, accountId);
    assert.ok(tokens.access_token);
    assert.ok(tokens.refresh_token);
    const userinfo = await oidc.fetchUserInfo(configuration, tokens.access_token, accountId);
    assert.equal(userinfo.name, 'Ada Lovelace');
    assert.equal(userinfo.email, EMAIL);
    assert.equal(userinfo.email_verified, true);
  });

  test('a request without a code_challenge is refused', async () => {
    const configuration = await webClient();
    const url = oidc.buildAuthorizationUrl(configuration, { redirect_uri: REDIRECT, scope: 'openid', state: 'x' });
    const response = await fetch(url, { redirect: 'manual' });
    const location = new URL(response.headers.get('location')!);
    assert.equal(location.searchParams.get('error'), 'invalid_request');
    assert.match(location.searchParams.get('error_description') ?? '', /PKCE/);
  });

  test('the plain PKCE method is refused', async () => {
    const configuration = await webClient();
    const url = oidc.buildAuthorizationUrl(configuration, {
      redirect_uri: REDIRECT,
      scope: 'openid',
      code_challenge: 'a'.repeat(43),
      code_challenge_method: 'plain',
    });
    const response = await fetch(url, { redirect: 'manual' });
    const location = new URL(response.headers.get('location')!);
    assert.equal(location.searchParams.get('error'), 'invalid_request');
  });

  test('an unregistered redirect_uri never receives a redirect', async () => {
    const configuration = await webClient();
    const url = oidc.buildAuthorizationUrl(configuration, {
      redirect_uri: 'http://localhost:8080/callback/evil',
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    const response = await fetch(url, { redirect: 'manual' });
    assert.equal(response.status, 400);
    assert.equal(response.headers.get('location'), null);
    assert.match(await response.text(), /redirect_uri/);
  });

  test('a public SPA client completes the flow with PKCE and no secret', async () => {
    const configuration = await oidc.discovery(new URL(server.issuer), spaClientId, undefined, oidc.None(), insecure);
    const { tokens } = await codeFlow(configuration, 'openid email');
    assert.equal(tokens.claims()?.sub, accountId);
  });

  test('a wrong password returns to the login page with one generic message', async () => {
    const configuration = await webClient();
    const url = oidc.buildAuthorizationUrl(configuration, {
      redirect_uri: REDIRECT,
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    const browser = await runBrowser(url, { email: EMAIL, password: 'wrong password!' });
    assert.deepEqual(browser.pages, ['login', 'login-failed']);
  });

  test('denying consent returns access_denied to the client', async () => {
    const configuration = await webClient();
    const url = oidc.buildAuthorizationUrl(configuration, {
      redirect_uri: REDIRECT,
      scope: 'openid',
      state: 'deny-state',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
      prompt: 'consent',
    });
    const browser = await runBrowser(url, { email: EMAIL, password: PASSWORD, consent: 'deny' });
    assert.equal(browser.url.searchParams.get('error'), 'access_denied');
    assert.equal(browser.url.searchParams.get('state'), 'deny-state');
  });

  test('an authorization code redeemed twice fails the second time with invalid_grant', async () => {
    const configuration = await webClient();
    const { browser, verifier } = await signInFor(configuration);
    await oidc.authorizationCodeGrant(configuration, browser.url, { pkceCodeVerifier: verifier, expectedState: oidc.skipStateCheck });
    await assert.rejects(
      oidc.authorizationCodeGrant(configuration, browser.url, { pkceCodeVerifier: verifier, expectedState: oidc.skipStateCheck }),
      (error: oidc.ResponseBodyError) => error.error === 'invalid_grant',
    );
  });

  test('two parallel redemptions of one code yield exactly one token set and no 5xx', async () => {
    const configuration = await webClient();
    const { browser, verifier } = await signInFor(configuration);
    const code = browser.url.searchParams.get('code')!;
    const redeem = () =>
      postAsClient(`${server.issuer}/token`, basicAuth(webClientId, webSecret), { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier });
    const responses = await Promise.all(Array.from({ length: 8 }, redeem));
    const statuses = responses.map((response) => response.status).sort();
    assert.deepEqual(statuses, [200, 400, 400, 400, 400, 400, 400, 400]);
    for (const response of responses.filter((r) => r.status === 400)) {
      assert.equal(((await response.json()) as { error: string }).error, 'invalid_grant');
    }
  });
});

describe('refresh tokens', () => {
  test('a refresh returns a new access token and rotates the refresh token', async () => {
    const configuration = await webClient();
    const { tokens } = await codeFlow(configuration);
    const refreshed = await oidc.refreshTokenGrant(configuration, tokens.refresh_token!);
    assert.ok(refreshed.access_token);
    assert.notEqual(refreshed.access_token, tokens.access_token);
    assert.ok(refreshed.refresh_token);
    assert.notEqual(refreshed.refresh_token, tokens.refresh_token);
  });

  test('parallel refreshes with one refresh token all receive the one successor, and no 5xx', async () => {
    const configuration = await webClient();
    const { tokens } = await codeFlow(configuration);
    const refresh = () =>
      postAsClient(`${server.issuer}/token`, basicAuth(webClientId, webSecret), { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! });
    const responses = await Promise.all(Array.from({ length: 10 }, refresh));
    assert.deepEqual(responses.map((response) => response.status), Array(10).fill(200));
    const bodies = (await Promise.all(responses.map((response) => response.json()))) as { refresh_token: string }[];
    assert.equal(new Set(bodies.map((body) => body.refresh_token)).size, 1, 'one successor for all');
    const again = await oidc.refreshTokenGrant(configuration, bodies[0]!.refresh_token);
    assert.ok(again.access_token);
  });
});

describe('client credentials', () => {
  test('a service client gets a token for its registered resource and scope', async () => {
    const configuration = await serviceClient();
    const tokens = await oidc.clientCredentialsGrant(configuration, { scope: 'read', resource: 'https://api.example.com' });
    assert.ok(tokens.access_token);
    assert.equal(tokens.scope, 'read');
  });

  test('a wrong client secret is refused with 401 invalid_client', async () => {
    const response = await postAsClient(`${server.issuer}/token`, basicAuth(serviceClientId, 'not-the-secret'), { grant_type: 'client_credentials', scope: 'read', resource: 'https://api.example.com' });
    assert.equal(response.status, 401);
    assert.equal(((await response.json()) as { error: string }).error, 'invalid_client');
  });

  test('a resource the client is not registered for is refused with invalid_target', async () => {
    const configuration = await serviceClient();
    await assert.rejects(
      oidc.clientCredentialsGrant(configuration, { scope: 'read', resource: 'https://other.example.com' }),
      (error: oidc.ResponseBodyError) => error.error === 'invalid_target',
    );
  });
});

describe('introspection and revocation', () => {
  test('a client introspects its own access token, then sees it inactive after revoking it', async () => {
    const configuration = await webClient();
    const { tokens } = await codeFlow(configuration);
    const introspector = configuration;
    const active = await oidc.tokenIntrospection(introspector, tokens.access_token);
    assert.equal(active.active, true);
    assert.equal(active.client_id, webClientId);
    assert.equal(active.sub, accountId);

    await oidc.tokenRevocation(configuration, tokens.access_token);
    const revoked = await oidc.tokenIntrospection(introspector, tokens.access_token);
    assert.equal(revoked.active, false);
  });

  test('revoking a refresh token revokes its grant: the refresh token stops working', async () => {
    const configuration = await webClient();
    const { tokens } = await codeFlow(configuration);
    await oidc.tokenRevocation(configuration, tokens.refresh_token!);
    await assert.rejects(
      oidc.refreshTokenGrant(configuration, tokens.refresh_token!),
      (error: oidc.ResponseBodyError) => error.error === 'invalid_grant',
    );
  });
});

describe('logout', () => {
  test('RP-initiated logout with id_token_hint ends the session and redirects to the registered URI', async () => {
    const configuration = await webClient();
    const { tokens, browser } = await codeFlow(configuration);
    const sessionId = browser.jar.get('_session')!;
    assert.ok(await server.database.prisma.oidcSession.findUnique({ where: { id: hashTokenId(sessionId) } }));
    const url = oidc.buildEndSessionUrl(configuration, {
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: LOGOUT_REDIRECT,
      state: 'bye',
    });
    // The engine asks for confirmation with a form it renders; submit it as the browser would.
    const done = await confirmLogout(browser.jar, url);
    assert.equal(done.status, 303);
    const location = new URL(done.headers.get('location')!, server.issuer);
    assert.equal(`${location.origin}${location.pathname}`, LOGOUT_REDIRECT);
    assert.equal(location.searchParams.get('state'), 'bye');
    // Ended (kept an hour, never found again: ended-session.ts).
    const ended = await server.database.prisma.oidcSession.findUnique({ where: { id: hashTokenId(sessionId) } });
    assert.ok(ended?.endedAt, 'the session is ended');
  });
});
