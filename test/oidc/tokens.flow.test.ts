import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';

import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import * as oidc from 'openid-client';

import { DPOP_SIGNING_ALGS } from '../../src/account-api/verify-dpop-proof.ts';
import { hashTokenId } from '../../src/oidc/index.ts';
import { runBrowser } from '../helpers/browserless-login.ts';
import { basicAuth, postAsClient } from '../helpers/token-endpoint.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// Token management as apps and resource servers see it: resource-bound JWT and opaque
// access tokens, RBAC, rotation with reuse detection and the grace window, introspection
// and revocation for every token type, and the protected account API.

const REDIRECT = 'http://localhost:8080/callback';
const JWT_API = 'https://jwt-api.example.com';
const OPAQUE_API = 'https://opaque-api.example.com';
const GRACE_SECONDS = 2;
const insecure = { execute: [oidc.allowInsecureRequests] };

const ALICE = { email: 'alice@example.com', password: 'alice password 123', roles: ['editor'] };
const BOB = { email: 'bob@example.com', password: 'bob password 1234', roles: [] as string[] };

let server: TestServer;
let accountApi: string;
const ids: Record<string, { id: string; secret?: string }> = {};

function basic(name: string): string {
  const { id, secret } = ids[name]!;
  return basicAuth(id, secret!);
}

async function configFor(name: string): Promise<oidc.Configuration> {
  const { id, secret } = ids[name]!;
  return oidc.discovery(new URL(server.issuer), id, undefined, oidc.ClientSecretBasic(secret), insecure);
}

interface FlowOptions {
  user?: typeof ALICE;
  scope?: string;
  resource?: string | string[];
  client?: string;
}

async function authorize(options: FlowOptions = {}) {
  const configuration = await configFor(options.client ?? 'web');
  const verifier = oidc.randomPKCECodeVerifier();
  const parameters = new URLSearchParams({
    redirect_uri: REDIRECT,
    scope: options.scope ?? 'openid offline_access read write',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    prompt: 'consent',
  });
  for (const resource of [options.resource ?? JWT_API].flat()) parameters.append('resource', resource);
  const url = oidc.buildAuthorizationUrl(configuration, parameters);
  const user = options.user ?? ALICE;
  const browser = await runBrowser(url, { email: user.email, password: user.password });
  return { configuration, verifier, browser };
}

async function codeFlow(options: FlowOptions = {}) {
  const { configuration, verifier, browser } = await authorize(options);
  const tokens = await oidc.authorizationCodeGrant(configuration, browser.url, {
    pkceCodeVerifier: verifier,
    expectedState: oidc.skipStateCheck,
  });
  return { configuration, tokens, browser };
}

function tokenRequest(client: string, body: Record<string, string>): Promise<Response> {
  return postAsClient(`${server.issuer}/token`, basic(client), body);
}

async function introspect(client: string, token: string, authorization = basic(client)) {
  const response = await postAsClient(`${server.issuer}/token/introspection`, authorization, { token });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function revoke(client: string, token: string): Promise<number> {
  const response = await postAsClient(`${server.issuer}/token/revocation`, basic(client), { token });
  return response.status;
}

async function api(path: string, token?: string, init: RequestInit = {}) {
  return fetch(`${server.issuer}${path}`, {
    ...init,
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
}

before(async () => {
  server = await startTestServer({ REFRESH_GRACE_SECONDS: String(GRACE_SECONDS) });
  accountApi = `${server.issuer}/api`;
  const { accounts, clients, resources } = server.services;
  for (const user of [ALICE, BOB]) {
    await accounts.create({ email: user.email, name: user.email.split('@')[0]!, password: user.password, roles: user.roles });
  }
  await resources.create({
    indicator: JWT_API,
    name: 'JWT API',
    scopes: [{ name: 'read', description: 'Read things' }, { name: 'write', description: 'Change things', roles: ['editor'] }],
    accessTokenFormat: 'jwt',
  });
  await resources.create({ indicator: OPAQUE_API, name: 'Opaque API', scopes: [{ name: 'read' }], accessTokenFormat: 'opaque' });
  const register = async (name: string, input: Record<string, unknown>) => {
    const created = await clients.create(input);
    ids[name] = { id: created.client.clientId, ...(created.clientSecret && { secret: created.clientSecret }) };
  };
  await register('web', {
    type: 'web',
    name: 'Web app',
    redirectUris: [REDIRECT],
    resources: [JWT_API, OPAQUE_API, accountApi],
    scopes: ['openid', 'offline_access', 'read', 'write', 'account:read', 'account:write'],
  });
  await register('other', { type: 'web', name: 'Other app', redirectUris: [REDIRECT], resources: [JWT_API], scopes: ['openid', 'read'] });
  await register('service', { type: 'service', name: 'Batch', resources: [JWT_API], scopes: ['read'] });
  await register('jwtApi', { type: 'resource-server', name: 'JWT API server', resources: [JWT_API] });
  await register('opaqueApi', { type: 'resource-server', name: 'Opaque API server', resources: [OPAQUE_API] });
});

after(async () => {
  await server?.close();
});

describe('resource servers and scopes', () => {
  test('a JWT access token for a resource verifies with jose against jwks_uri as RFC 9068 requires', async () => {
    const { tokens } = await codeFlow();
    const jwks = createRemoteJWKSet(new URL(`${server.issuer}/jwks`));
    const { payload, protectedHeader } = await jwtVerify(tokens.access_token, jwks, {
      issuer: server.issuer,
      audience: JWT_API,
      typ: 'at+jwt',
    });
    assert.equal(protectedHeader.alg, 'ES256');
    assert.equal(payload.client_id, ids.web!.id);
    assert.deepEqual(String(payload.scope).split(' ').sort(), ['read', 'write']);
  });

  test('RBAC: a user without the role never receives the role-bound scope, and is not asked for it', async () => {
    const { configuration, verifier, browser } = await authorize({ user: BOB });
    assert.deepEqual(browser.pages, ['login', 'consent']);
    const tokens = await oidc.authorizationCodeGrant(configuration, browser.url, {
      pkceCodeVerifier: verifier,
      expectedState: oidc.skipStateCheck,
    });
    assert.equal(decodeJwt(tokens.access_token).scope, 'read');
  });

  test('RBAC: the consent page lists only grantable scopes', async () => {
    const erin = { email: 'erin@example.com', password: 'erin password 1234', roles: [] as string[] };
    await server.services.accounts.create({ email: erin.email, name: 'Erin', password: erin.password });
    const configuration = await configFor('web');
    const parameters = new URLSearchParams({
      redirect_uri: REDIRECT,
      scope: 'openid read write',
      resource: JWT_API,
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
      prompt: 'consent',
    });
    const start = oidc.buildAuthorizationUrl(configuration, parameters);
    // Stop at the consent page: log in by hand, then read the page.
    let pageHtml = '';
    await runBrowser(start, {
      email: erin.email,
      password: erin.password,
      consent: 'deny',
      onPage: (html) => {
        if (html.includes('/confirm')) pageHtml = html;
      },
    });
    assert.match(pageHtml, /Read things/);
    assert.doesNotMatch(pageHtml, /Change things/);
  });

  test('a scope the client is not registered for is refused with invalid_scope', async () => {
    const configuration = await configFor('other');
    const parameters = new URLSearchParams({
      redirect_uri: REDIRECT,
      scope: 'openid write',
      resource: JWT_API,
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    const response = await fetch(oidc.buildAuthorizationUrl(configuration, parameters), { redirect: 'manual' });
    const location = new URL(response.headers.get('location')!);
    assert.equal(location.searchParams.get('error'), 'invalid_scope');
  });

  test('a resource the client is not registered for is refused with invalid_target', async () => {
    const configuration = await configFor('other');
    const parameters = new URLSearchParams({
      redirect_uri: REDIRECT,
      scope: 'openid read',
      resource: OPAQUE_API,
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    const response = await fetch(oidc.buildAuthorizationUrl(configuration, parameters), { redirect: 'manual' });
    const location = new URL(response.headers.get('location')!);
    assert.equal(location.searchParams.get('error'), 'invalid_target');
  });

  test('client credentials: a service client gets a JWT for its resource and registered scope only', async () => {
    const ok = await tokenRequest('service', { grant_type: 'client_credentials', resource: JWT_API, scope: 'read' });
    assert.equal(ok.status, 200);
    const claims = decodeJwt(((await ok.json()) as { access_token: string }).access_token);
    assert.equal(claims.aud, JWT_API);
    assert.equal(claims.scope, 'read');
    assert.equal(claims.sub, ids.service!.id);

    const tooMuch = await tokenRequest('service', { grant_type: 'client_credentials', resource: JWT_API, scope: 'read write' });
    assert.equal(tooMuch.status, 400);
    assert.equal(((await tooMuch.json()) as { error: string }).error, 'invalid_scope');
  });

  test('an access token without a resource is opaque, short-lived and good for userinfo', async () => {
    const { configuration, tokens } = await codeFlow({ scope: 'openid', resource: [] });
    assert.doesNotMatch(tokens.access_token, /^ey/);
    assert.ok(tokens.expires_in! <= 600);
    const userinfo = await oidc.fetchUserInfo(configuration, tokens.access_token, oidc.skipSubjectCheck);
    assert.ok(userinfo.sub);
  });
});

describe('refresh token rotation, reuse detection and the grace window', () => {
  test('two refreshes inside the grace window get the same successor and the same access token', async () => {
    const { tokens } = await codeFlow();
    const first = await tokenRequest('web', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! });
    const second = await tokenRequest('web', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! });
    assert.equal(first.status, 200);
    assert.equal(second.status, 200);
    const [a, b] = (await Promise.all([first.json(), second.json()])) as { refresh_token: string; access_token: string }[];
    assert.equal(a!.refresh_token, b!.refresh_token);
    assert.equal(a!.access_token, b!.access_token);
    assert.notEqual(a!.refresh_token, tokens.refresh_token);
  });

  test('50 parallel refreshes with one token end with exactly one live successor and no 5xx', async () => {
    const { tokens } = await codeFlow();
    const responses = await Promise.all(
      Array.from({ length: 50 }, () => tokenRequest('web', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! })),
    );
    assert.equal(responses.filter((response) => response.status >= 500).length, 0);
    assert.equal(responses.filter((response) => response.status === 200).length, 50, 'inside the window every one succeeds');
    const bodies = (await Promise.all(responses.filter((r) => r.status === 200).map((r) => r.json()))) as { refresh_token: string }[];
    const successors = new Set(bodies.map((body) => body.refresh_token));
    assert.equal(successors.size, 1, 'every success carries the same successor');
    const [successor] = successors;
    const original = await server.database.prisma.oidcRefreshToken.findUniqueOrThrow({ where: { id: hashTokenId(tokens.refresh_token!) } });
    assert.ok(original.consumedAt, 'the presented token is used up');
    const next = await server.database.prisma.oidcRefreshToken.findUniqueOrThrow({ where: { id: hashTokenId(successor!) } });
    assert.equal(next.consumedAt, null, 'its one successor is live');
    // Only one rotation happened: the successor is a first rotation of the original.
    assert.equal((next.payload as { rotations?: number }).rotations, ((original.payload as { rotations?: number }).rotations ?? 0) + 1);
  });

  test('a rotated refresh token presented after the window revokes its grant’s family, and only that grant', async () => {
    // A grant is one authorization (see refresh-rotation.test.ts for one person's two
    // devices); the bystander is another person using the same app.
    const victim = await codeFlow({ user: BOB, scope: 'openid offline_access read' });
    const bystander = await codeFlow({ scope: 'openid offline_access read' });
    const rotated = await oidc.refreshTokenGrant(victim.configuration, victim.tokens.refresh_token!);
    await sleep((GRACE_SECONDS + 0.5) * 1000);

    const replay = await tokenRequest('web', { grant_type: 'refresh_token', refresh_token: victim.tokens.refresh_token! });
    assert.equal(replay.status, 400);
    assert.equal(((await replay.json()) as { error: string }).error, 'invalid_grant');
    // The family is gone: the successor and its access token no longer work...
    const successor = await tokenRequest('web', { grant_type: 'refresh_token', refresh_token: rotated.refresh_token! });
    assert.equal(successor.status, 400);
    assert.equal((await introspect('web', rotated.access_token)).body.active, false);
    // ...while the same client's other grant is untouched.
    const other = await oidc.refreshTokenGrant(bystander.configuration, bystander.tokens.refresh_token!);
    assert.ok(other.access_token);
  });
});

describe('introspection', () => {
  test('the matrix: resource server of the audience, of another audience, the owner, a stranger, a wrong secret', async () => {
    const jwt = (await codeFlow({ resource: JWT_API })).tokens;
    const opaque = (await codeFlow({ resource: OPAQUE_API, scope: 'openid offline_access read' })).tokens;

    const asAudience = await introspect('jwtApi', jwt.access_token);
    assert.equal(asAudience.status, 200);
    assert.equal(asAudience.body.active, true);
    for (const field of ['scope', 'client_id', 'sub', 'aud', 'exp', 'iat', 'iss', 'token_type']) {
      assert.ok(asAudience.body[field] !== undefined, `JWT introspection carries ${field}`);
    }
    assert.equal(asAudience.body.aud, JWT_API);
    assert.equal((await introspect('opaqueApi', opaque.access_token)).body.active, true);
    const opaqueBody = (await introspect('opaqueApi', opaque.access_token)).body;
    for (const field of ['scope', 'client_id', 'sub', 'aud', 'exp', 'iat', 'iss', 'token_type']) {
      assert.ok(opaqueBody[field] !== undefined, `opaque introspection carries ${field}`);
    }

    assert.deepEqual((await introspect('opaqueApi', jwt.access_token)).body, { active: false });
    assert.deepEqual((await introspect('jwtApi', opaque.access_token)).body, { active: false });
    assert.equal((await introspect('web', jwt.access_token)).body.active, true, 'the owner sees its JWT');
    assert.equal((await introspect('web', opaque.refresh_token!)).body.active, true, 'the owner sees its refresh token');
    // RFC 7662 §2.2: token_type is an access-token type (RFC 6749 §7.1); a refresh token has none.
    const refreshBody = (await introspect('web', opaque.refresh_token!)).body;
    assert.equal(refreshBody.token_type, undefined, 'a refresh token is not reported as an access-token type');
    assert.equal(refreshBody.client_id, ids.web!.id);
    assert.deepEqual((await introspect('other', jwt.access_token)).body, { active: false });
    assert.deepEqual((await introspect('jwtApi', opaque.refresh_token!)).body, { active: false });

    const wrong = basicAuth(ids.jwtApi!.id, 'wrong-secret');
    const refused = await introspect('jwtApi', jwt.access_token, wrong);
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error, 'invalid_client');
  });

  test('garbage and forged JWTs are simply inactive', async () => {
    const { tokens } = await codeFlow();
    const [header, payload] = tokens.access_token.split('.');
    const forged = `${header}.${payload}.${'A'.repeat(86)}`;
    assert.deepEqual((await introspect('jwtApi', forged)).body, { active: false });
    assert.deepEqual((await introspect('jwtApi', 'not-a-token')).body, { active: false });
  });
});

describe('revocation', () => {
  test('a revoked JWT access token is inactive and refused by the API, while its refresh token still works', async () => {
    const { configuration, tokens } = await codeFlow({ resource: accountApi, scope: 'openid offline_access account:read' });
    assert.equal((await api('/api/me', tokens.access_token)).status, 200);
    assert.equal(await revoke('web', tokens.access_token), 200);
    assert.equal((await introspect('web', tokens.access_token)).body.active, false);
    const refused = await api('/api/me', tokens.access_token);
    assert.equal(refused.status, 401);
    assert.match(refused.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    const refreshed = await oidc.refreshTokenGrant(configuration, tokens.refresh_token!);
    assert.equal((await api('/api/me', refreshed.access_token)).status, 200);
  });

  test('only the owning client can revoke: another client’s request changes nothing', async () => {
    const { tokens } = await codeFlow();
    await revoke('other', tokens.access_token);
    assert.equal((await introspect('web', tokens.access_token)).body.active, true);
  });

  test('a revoked opaque access token is inactive', async () => {
    const { tokens } = await codeFlow({ resource: OPAQUE_API, scope: 'openid read' });
    assert.equal(await revoke('web', tokens.access_token), 200);
    assert.equal((await introspect('opaqueApi', tokens.access_token)).body.active, false);
  });

  test('revoking a refresh token revokes the grant: its JWT access tokens stop working everywhere', async () => {
    const { tokens } = await codeFlow({ resource: accountApi, scope: 'openid offline_access account:read' });
    assert.equal(await revoke('web', tokens.refresh_token!), 200);
    assert.equal((await api('/api/me', tokens.access_token)).status, 401);
    assert.equal((await introspect('web', tokens.access_token)).body.active, false);
    const refresh = await tokenRequest('web', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! });
    assert.equal(refresh.status, 400);
  });
});

describe('the protected account API', () => {
  test('no token gets 401 with bare Bearer and DPoP challenges; a query-string token is not accepted', async () => {
    const none = await api('/api/me');
    assert.equal(none.status, 401);
    const metadata = `${server.issuer}/.well-known/oauth-protected-resource/api`;
    assert.equal(none.headers.get('www-authenticate'), `Bearer realm="portcullis", resource_metadata="${metadata}", DPoP realm="portcullis", resource_metadata="${metadata}", algs="${DPOP_SIGNING_ALGS.join(' ')}"`);
    const { tokens } = await codeFlow({ resource: accountApi, scope: 'openid account:read' });
    const query = await fetch(`${server.issuer}/api/me?access_token=${tokens.access_token}`);
    assert.equal(query.status, 401);
  });

  test('a token for another API is invalid_token; a missing scope is insufficient_scope with the scope', async () => {
    const other = (await codeFlow({ resource: JWT_API })).tokens;
    const wrongAudience = await api('/api/me', other.access_token);
    assert.equal(wrongAudience.status, 401);
    assert.match(wrongAudience.headers.get('www-authenticate') ?? '', /error="invalid_token"/);

    const readOnly = (await codeFlow({ resource: accountApi, scope: 'openid account:read' })).tokens;
    const forbidden = await api('/api/grants/some-grant', readOnly.access_token, { method: 'DELETE' });
    assert.equal(forbidden.status, 403);
    assert.match(forbidden.headers.get('www-authenticate') ?? '', /error="insufficient_scope", scope="account:write"/);
  });

  test('GET /api/me returns the subject’s profile', async () => {
    const { tokens } = await codeFlow({ resource: accountApi, scope: 'openid account:read' });
    const me = (await (await api('/api/me', tokens.access_token)).json()) as Record<string, unknown>;
    assert.equal(me.email, ALICE.email);
    assert.deepEqual(me.roles, ['editor']);
    assert.equal(me.password_hash, undefined);
  });

  test('GET /api/grants lists the apps with scopes, resources and dates; DELETE revokes the app and its tokens', async () => {
    const app = await codeFlow({ client: 'other', resource: JWT_API, scope: 'openid read' });
    const { tokens } = await codeFlow({ resource: accountApi, scope: 'openid account:read account:write' });
    const listed = (await (await api('/api/grants', tokens.access_token)).json()) as {
      grants: { id: string; client_id: string; client_name: string; scopes: string[]; resources: Record<string, string[]>; created_at: string }[];
    };
    const grant = listed.grants.find((item) => item.client_id === ids.other!.id);
    assert.ok(grant, 'the other app is listed');
    assert.equal(grant.client_name, 'Other app');
    assert.deepEqual(grant.resources[JWT_API], ['read']);
    assert.ok(grant.scopes.includes('openid'));
    assert.ok(!Number.isNaN(Date.parse(grant.created_at)));

    const deleted = await api(`/api/grants/${grant.id}`, tokens.access_token, { method: 'DELETE' });
    assert.equal(deleted.status, 204);
    assert.equal((await introspect('jwtApi', app.tokens.access_token)).body.active, false);
    const again = (await (await api('/api/grants', tokens.access_token)).json()) as { grants: { id: string }[] };
    assert.ok(!again.grants.some((item) => item.id === grant.id));
    assert.equal((await api(`/api/grants/${grant.id}`, tokens.access_token, { method: 'DELETE' })).status, 404);
  });

  test('a user cannot revoke someone else’s grant', async () => {
    const bobsApp = await codeFlow({ user: BOB, client: 'other', resource: JWT_API, scope: 'openid read' });
    const bobGrant = decodeJwt(bobsApp.tokens.access_token).gid as string;
    const { tokens } = await codeFlow({ resource: accountApi, scope: 'openid account:read account:write' });
    assert.equal((await api(`/api/grants/${bobGrant}`, tokens.access_token, { method: 'DELETE' })).status, 404);
    assert.equal((await introspect('jwtApi', bobsApp.tokens.access_token)).body.active, true);
  });
});

describe('discovery', () => {
  test('advertises the enabled grants, S256, introspection and revocation with their auth methods, and iss', async () => {
    const metadata = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    assert.deepEqual(metadata.code_challenge_methods_supported, ['S256']);
    assert.deepEqual([...(metadata.grant_types_supported as string[])].sort(), ['authorization_code', 'client_credentials', 'refresh_token']);
    assert.equal(metadata.introspection_endpoint, `${server.issuer}/token/introspection`);
    assert.equal(metadata.revocation_endpoint, `${server.issuer}/token/revocation`);
    const registrable = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'];
    assert.deepEqual(metadata.token_endpoint_auth_methods_supported, registrable);
    // RFC 8414: omitted means the same methods as the token endpoint's defaults apply.
    for (const endpoint of ['introspection', 'revocation']) {
      const methods = (metadata[`${endpoint}_endpoint_auth_methods_supported`] as string[] | undefined) ?? ['client_secret_basic'];
      assert.ok(methods.includes('client_secret_basic'), endpoint);
      assert.ok(methods.every((method) => registrable.includes(method)), `${endpoint} offers only what clients are registered with`);
    }
    assert.equal(metadata.authorization_response_iss_parameter_supported, true);
  });
});
