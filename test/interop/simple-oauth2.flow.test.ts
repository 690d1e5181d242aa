import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { AuthorizationCode, ClientCredentials, type ModuleOptions } from 'simple-oauth2';

import { runBrowser } from '../helpers/browserless-login.ts';
import { basicAuth, postAsClient } from '../helpers/token-endpoint.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// Portcullis as a client library that knows nothing of it sees it: simple-oauth2 (hapi's
// Wreck underneath) with no discovery, no resource indicators and its own defaults (the
// secret form-encoded into a Basic header, or in the body when told), then the request
// shapes other libraries send by default. Whatever a library's defaults are, they must
// just work; and its errors must be the protocol's JSON.

const API = 'https://interop-api.example.com';
const REDIRECT = 'http://localhost:8080/callback';
const PERSON = { email: 'ivy@example.com', password: 'ivy has a long password' };

let server: TestServer;
let service: { id: string; secret: string };
let poster: { id: string; secret: string };
let web: { id: string; secret: string };
let introspector: { id: string; secret: string };

before(async () => {
  // No grace window: presenting a rotated refresh token again is reuse at once.
  server = await startTestServer({ REFRESH_GRACE_SECONDS: '0' });
  const { accounts, clients, resources } = server.services;
  await accounts.create({ ...PERSON, name: 'Ivy' });
  await resources.create({ indicator: API, name: 'API', scopes: [{ name: 'read' }, { name: 'write' }], accessTokenFormat: 'opaque' });
  const created = async (input: Record<string, unknown>) => {
    const result = await clients.create(input);
    return { id: result.client.clientId, secret: result.clientSecret! };
  };
  // An id with characters RFC 6749 §2.3.1 form-encodes before Basic: the library and the
  // engine must agree on them.
  service = await created({ type: 'service', name: 'Batch', clientId: 'batch.job~1', resources: [API], scopes: ['read', 'write'] });
  poster = await created({ type: 'service', name: 'Poster', resources: [API], scopes: ['read'], authMethod: 'client_secret_post' });
  web = await created({ type: 'web', name: 'Web', redirectUris: [REDIRECT], authMethod: 'client_secret_post', resources: [API], scopes: ['openid', 'email', 'offline_access', 'read'] });
  introspector = await created({ type: 'resource-server', name: 'API', resources: [API] });
});

after(async () => {
  await server?.close();
});

function options(client: { id: string; secret: string }, authorizationMethod?: 'header' | 'body'): ModuleOptions {
  return {
    client: { id: client.id, secret: client.secret },
    auth: { tokenHost: server.issuer, tokenPath: '/token', revokePath: '/token/revocation' },
    ...(authorizationMethod && { options: { authorizationMethod } }),
  };
}

/** The same, for the authorization code grant (which alone knows the authorization endpoint). */
function codeOptions(client: { id: string; secret: string }, authorizationMethod?: 'header' | 'body'): ModuleOptions<'client_id'> {
  const base = options(client, authorizationMethod);
  return { ...base, auth: { ...base.auth, authorizePath: '/auth' } };
}

// simple-oauth2 passes any extra parameter through; its types list only the classic ones.
type AuthorizeParams = Parameters<AuthorizationCode['authorizeURL']>[0];
type CodeParams = Parameters<AuthorizationCode['getToken']>[0];

async function introspect(token: string): Promise<Record<string, unknown>> {
  const response = await postAsClient(`${server.issuer}/token/introspection`, basicAuth(introspector.id, introspector.secret), { token });
  return (await response.json()) as Record<string, unknown>;
}

/** The OAuth error of a failed simple-oauth2 call (a Boom error carrying the response payload). */
async function oauthError(call: Promise<unknown>): Promise<{ status: number; error: unknown }> {
  try {
    await call;
  } catch (caught) {
    const boom = caught as { output?: { statusCode?: number }; data?: { payload?: { error?: unknown } } };
    return { status: boom.output?.statusCode ?? 0, error: boom.data?.payload?.error };
  }
  throw new Error('the call succeeded');
}

describe('simple-oauth2 client credentials', () => {
  test('with its defaults (form-encoded Basic) and no resource parameter, gets the scope it asked for', async () => {
    const token = await new ClientCredentials(options(service)).getToken({ scope: ['read', 'write'] });
    assert.equal(token.token.token_type, 'Bearer');
    assert.equal(token.token.scope, 'read write');
    const facts = await introspect(token.token.access_token as string);
    assert.equal(facts.active, true);
    assert.equal(facts.aud, API);
    assert.equal(facts.client_id, service.id);
  });

  test('with the secret in the body, for a client_secret_post client', async () => {
    const token = await new ClientCredentials(options(poster, 'body')).getToken({ scope: 'read' });
    assert.equal(token.token.scope, 'read');
    assert.ok(!token.expired());
  });

  test('a wrong secret is a 401 with invalid_client in JSON, and a scope it may not have is invalid_scope', async () => {
    assert.deepEqual(await oauthError(new ClientCredentials(options({ ...poster, secret: 'wrong' }, 'body')).getToken({ scope: 'read' })), { status: 401, error: 'invalid_client' });
    assert.deepEqual(await oauthError(new ClientCredentials(options(poster, 'body')).getToken({ scope: 'admin' })), { status: 400, error: 'invalid_scope' });
  });
});

describe('simple-oauth2 authorization code with PKCE, refresh and revocation', () => {
  test('a person signs in, the code becomes tokens, they refresh with rotation and revoke', async () => {
    const client = new AuthorizationCode(codeOptions(web, 'body'));
    const verifier = randomBytes(32).toString('base64url');
    const state = randomBytes(8).toString('base64url');
    const url = client.authorizeURL({
      redirect_uri: REDIRECT,
      scope: ['openid', 'email', 'offline_access', 'read'],
      state,
      prompt: 'consent',
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    } as AuthorizeParams);
    const browser = await runBrowser(new URL(url), { ...PERSON });
    assert.equal(browser.url.searchParams.get('state'), state);
    assert.equal(browser.url.searchParams.get('iss'), server.issuer);
    const code = browser.url.searchParams.get('code');
    assert.ok(code);

    const token = await client.getToken({ code, redirect_uri: REDIRECT, code_verifier: verifier } as CodeParams);
    assert.equal(token.token.scope, 'read', 'the access token is for the API the scope belongs to');
    assert.ok(token.token.id_token);
    const first = token.token.refresh_token as string;
    assert.ok(first);
    assert.equal((await introspect(token.token.access_token as string)).aud, API);

    const refreshed = await token.refresh();
    assert.ok(refreshed.token.access_token);
    assert.notEqual(refreshed.token.refresh_token, first, 'the refresh token rotates');
    // The rotated one presented again is reuse: refused, and the family revoked.
    assert.deepEqual(await oauthError(token.refresh()), { status: 400, error: 'invalid_grant' });
    assert.equal((await introspect(refreshed.token.access_token as string)).active, false);

    // A second sign-in, then revocation of both its tokens by the library.
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const againUrl = client.authorizeURL({ redirect_uri: REDIRECT, scope: 'openid offline_access read', prompt: 'consent', code_challenge: challenge, code_challenge_method: 'S256' } as AuthorizeParams);
    const again = await runBrowser(new URL(againUrl), { jar: browser.jar });
    const second = await client.getToken({ code: again.url.searchParams.get('code')!, redirect_uri: REDIRECT, code_verifier: verifier } as CodeParams);
    await second.revokeAll();
    assert.equal((await introspect(second.token.access_token as string)).active, false);
    assert.deepEqual(await oauthError(second.refresh()), { status: 400, error: 'invalid_grant' });
  });
});

describe('request shapes other libraries send by default', () => {
  test('requests-oauthlib: client_id in the body beside the Basic header', async () => {
    const response = await fetch(`${server.issuer}/token`, {
      method: 'POST',
      headers: { authorization: basicAuth(service.id, service.secret), 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: service.id, scope: 'read' }),
    });
    assert.equal(response.status, 200);
    assert.equal(((await response.json()) as { scope: string }).scope, 'read');
  });

  test('Go x/oauth2 (AuthStyleInParams): client_id and client_secret in the body, scope space-separated', async () => {
    const response = await fetch(`${server.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: poster.id, client_secret: poster.secret, scope: 'read' }),
    });
    assert.equal(response.status, 200);
    const body = (await response.json()) as { token_type: string; expires_in: number; scope: string };
    assert.equal(body.token_type, 'Bearer');
    assert.ok(body.expires_in > 0);
    assert.equal(body.scope, 'read');
  });

  test('a Basic header whose id and secret are not form-encoded still authenticates an id without reserved characters', async () => {
    const raw = `Basic ${Buffer.from(`${poster.id}:${poster.secret}`).toString('base64')}`;
    const response = await postAsClient(`${server.issuer}/token`, raw, { grant_type: 'client_credentials', scope: 'read' });
    assert.equal(response.status, 200);
  });
});
