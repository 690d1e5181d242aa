import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT, type CryptoKey } from 'jose';
import * as oidc from 'openid-client';

import { runBrowser } from '../helpers/browserless-login.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// Per-client requirements on authorization requests: pushed first (PAR, RFC 9126 section
// 5: "require_pushed_authorization_requests") and signed request objects (JAR, RFC 9101
// section 10.5: "require_signed_request_object"). A client registered with either gets no
// code for a request made any other way; a request object counts only when signed with
// the client's own registered key, with an asymmetric algorithm (never `none`, never a
// shared secret). Clients without the requirement keep every way in. openid-client builds
// the requests as a third-party client would.

const REDIRECT = 'https://app.example/callback';
const PERSON = { email: 'requester@example.com', password: 'a password long enough to request with' };
const insecure = { execute: [oidc.allowInsecureRequests] };

interface Signer {
  readonly id: string;
  readonly key: CryptoKey;
  readonly kid: string;
  config: oidc.Configuration;
}

let server: TestServer;
let parOnly: oidc.Configuration;
let plain: oidc.Configuration;
let jarOnly: Signer;
let withKeys: Signer;
let stranger: { key: CryptoKey; kid: string };

async function signer(id: string, requireSignedRequests: boolean, requirePushedRequests = false): Promise<Signer> {
  const keys = await generateKeyPair('ES256', { extractable: true });
  const kid = `${id}-key`;
  await server.services.clients.create({
    clientId: id,
    type: 'web',
    name: id,
    redirectUris: [REDIRECT],
    scopes: ['openid'],
    authMethod: 'private_key_jwt',
    jwks: { keys: [{ ...(await exportJWK(keys.publicKey)), kid, alg: 'ES256', use: 'sig' }] },
    requireSignedRequests,
    requirePushedRequests,
  });
  const config = await oidc.discovery(new URL(server.issuer), id, undefined, oidc.PrivateKeyJwt({ key: keys.privateKey, kid }), insecure);
  return { id, key: keys.privateKey, kid, config };
}

before(async () => {
  server = await startTestServer({ LOG_LEVEL: 'warn' }, {
    declare: {
      clients: [
        { clientId: 'par-only', type: 'web', name: 'PAR only', redirectUris: [REDIRECT], scopes: ['openid'], requirePushedRequests: true },
        { clientId: 'plain', type: 'web', name: 'Plain', redirectUris: [REDIRECT], scopes: ['openid'] },
      ],
      users: [{ email: PERSON.email, name: 'Requester', password: PERSON.password }],
    },
  });
  const issuer = new URL(server.issuer);
  parOnly = await oidc.discovery(issuer, 'par-only', server.declared.clientSecret('par-only'), undefined, insecure);
  plain = await oidc.discovery(issuer, 'plain', server.declared.clientSecret('plain'), undefined, insecure);
  jarOnly = await signer('jar-only', true);
  withKeys = await signer('with-keys', false);
  const other = await generateKeyPair('ES256', { extractable: true });
  stranger = { key: other.privateKey, kid: 'jar-only-key' };
});

after(async () => {
  await server?.close();
});

interface Started {
  readonly url: URL;
  readonly verifier: string;
  readonly state: string;
}

async function pkceParams(): Promise<{ params: Record<string, string>; verifier: string; state: string }> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const params = {
    redirect_uri: REDIRECT,
    scope: 'openid',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
  };
  return { params, verifier, state };
}

async function plainUrl(config: oidc.Configuration): Promise<Started> {
  const { params, verifier, state } = await pkceParams();
  return { url: oidc.buildAuthorizationUrl(config, params), verifier, state };
}

/** A request object as RFC 9101 section 4 has it, signed by `key` (openid-client's own is below). */
async function requestObject(client: string, key: CryptoKey, kid: string, params: Record<string, string>): Promise<string> {
  return new SignJWT({ ...params, response_type: 'code', client_id: client })
    .setProtectedHeader({ alg: 'ES256', kid, typ: 'oauth-authz-req+jwt' })
    .setIssuer(client)
    .setAudience(server.issuer)
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(key);
}

/** Signs in through the URL and exchanges the code: the whole flow succeeds. */
async function completes(config: oidc.Configuration, started: Started): Promise<void> {
  const browser = await runBrowser(started.url, PERSON);
  const tokens = await oidc.authorizationCodeGrant(config, browser.url, { pkceCodeVerifier: started.verifier, expectedState: started.state });
  assert.equal(tokens.claims()?.sub, server.declared.accountId(PERSON.email));
}

/**
 * The authorization endpoint's answer to a browser: refused with `error` (as a page, or at
 * the client's registered redirect URI), never a code and never a login page.
 */
async function assertRefused(url: URL, description: RegExp, error = 'invalid_request'): Promise<void> {
  const response = await fetch(url, { redirect: 'manual' });
  const header = response.headers.get('location');
  const location = header ? new URL(header, server.issuer) : undefined;
  assert.ok(!location || !location.pathname.startsWith('/interaction'), `sent to sign in: ${header}`);
  if (location) {
    assert.equal(`${location.origin}${location.pathname}`, REDIRECT);
    assert.equal(location.searchParams.get('code'), null);
    assert.equal(location.searchParams.get('error'), error, header ?? '');
    assert.match(location.searchParams.get('error_description') ?? '', description);
  } else {
    const text = await response.text();
    assert.equal(response.status, 400, text.slice(0, 300));
    assert.ok(text.includes(error), text.slice(0, 300));
    assert.match(text, description);
  }
}

describe('discovery', () => {
  test('advertises request objects signed with asymmetric algorithms only, and PAR as optional for the deployment', () => {
    const metadata = plain.serverMetadata();
    assert.equal(metadata.request_parameter_supported, true);
    const algs = metadata.request_object_signing_alg_values_supported ?? [];
    assert.ok(algs.includes('ES256') && algs.includes('RS256'), algs.join(' '));
    assert.ok(!algs.some((alg) => alg === 'none' || alg.startsWith('HS')), `symmetric or none advertised: ${algs.join(' ')}`);
    assert.equal(metadata.require_pushed_authorization_requests ?? false, false);
  });
});

describe('a client that must push its requests (PAR)', () => {
  test('gets no code for a plain authorization request', async () => {
    await assertRefused((await plainUrl(parOnly)).url, /pushed authorization request/i);
  });

  test('completes the flow when it pushes, with openid-client', async () => {
    const { params, verifier, state } = await pkceParams();
    await completes(parOnly, { url: await oidc.buildAuthorizationUrlWithPAR(parOnly, params), verifier, state });
  });

  test('another client without the requirement still signs people in with a plain request', async () => {
    await completes(plain, await plainUrl(plain));
  });
});

describe('a client that must sign its requests (JAR)', () => {
  test('gets no code for a plain request, pushed or not', async () => {
    await assertRefused((await plainUrl(jarOnly.config)).url, /request object/i);
    const { params } = await pkceParams();
    await assert.rejects(
      () => oidc.buildAuthorizationUrlWithPAR(jarOnly.config, params),
      (error: unknown) => error instanceof oidc.ResponseBodyError && error.status === 400 && error.error === 'invalid_request',
    );
  });

  test('completes the flow with a request object signed by its key, by value and pushed (openid-client)', async () => {
    for (const pushed of [false, true]) {
      const { params, verifier, state } = await pkceParams();
      const signed = await oidc.buildAuthorizationUrlWithJAR(jarOnly.config, params, { key: jarOnly.key, kid: jarOnly.kid });
      const url = pushed ? await oidc.buildAuthorizationUrlWithPAR(jarOnly.config, Object.fromEntries(signed.searchParams)) : signed;
      await completes(jarOnly.config, { url, verifier, state });
    }
  });

  test('an unsigned request object (alg none) is refused', async () => {
    const { params } = await pkceParams();
    const unsigned = new UnsecuredJWT({ ...params, response_type: 'code', client_id: jarOnly.id }).setIssuer(jarOnly.id).setAudience(server.issuer).setIssuedAt().setExpirationTime('5m').encode();
    const url = new URL(`${server.issuer}/auth`);
    url.search = new URLSearchParams({ client_id: jarOnly.id, request: unsigned }).toString();
    await assertRefused(url, /alg/i, 'invalid_request_object');
  });

  test("a request object signed by a key that is not the client's, under its key id, is refused", async () => {
    const { params } = await pkceParams();
    const forged = await requestObject(jarOnly.id, stranger.key, stranger.kid, params);
    const url = new URL(`${server.issuer}/auth`);
    url.search = new URLSearchParams({ client_id: jarOnly.id, request: forged }).toString();
    await assertRefused(url, /could not validate Request Object/, 'invalid_request_object');
  });

  test("a request object signed with another client's key is refused for this one", async () => {
    const { params } = await pkceParams();
    // with-keys signs a request naming jar-only: the signature is checked against jar-only's keys.
    const borrowed = await requestObject(jarOnly.id, withKeys.key, withKeys.kid, params);
    const url = new URL(`${server.issuer}/auth`);
    url.search = new URLSearchParams({ client_id: jarOnly.id, request: borrowed }).toString();
    await assertRefused(url, /could not validate Request Object/, 'invalid_request_object');
  });

  test('a client with keys but without the requirement may send either', async () => {
    await completes(withKeys.config, await plainUrl(withKeys.config));
    const { params, verifier, state } = await pkceParams();
    await completes(withKeys.config, { url: await oidc.buildAuthorizationUrlWithJAR(withKeys.config, params, { key: withKeys.key, kid: withKeys.kid }), verifier, state });
  });
});

describe('request objects cannot be captured and reused', () => {
  const at = (request: string) => {
    const url = new URL(`${server.issuer}/auth`);
    url.search = new URLSearchParams({ client_id: withKeys.id, request }).toString();
    return url;
  };

  test('one without exp, or valid for more than an hour, is refused (the engine keeps no list of used ones)', async () => {
    const { params } = await pkceParams();
    const base = () =>
      new SignJWT({ ...params, response_type: 'code', client_id: withKeys.id })
        .setProtectedHeader({ alg: 'ES256', kid: withKeys.kid, typ: 'oauth-authz-req+jwt' })
        .setIssuer(withKeys.id)
        .setAudience(server.issuer)
        .setIssuedAt();
    await assertRefused(at(await base().sign(withKeys.key)), /'exp'/, 'invalid_request_object');
    await assertRefused(at(await base().setExpirationTime('2h').sign(withKeys.key)), /'exp' may be at most 3600 seconds/, 'invalid_request_object');
    await assertRefused(at(await base().setNotBefore('-2h').setExpirationTime('5m').sign(withKeys.key)), /'exp' may be at most/, 'invalid_request_object');
  });

  test("one naming a subject is refused: it would double as the client's private_key_jwt assertion", async () => {
    const { params } = await pkceParams();
    const withSub = await new SignJWT({ ...params, response_type: 'code', client_id: withKeys.id, jti: crypto.randomUUID() })
      .setProtectedHeader({ alg: 'ES256', kid: withKeys.kid })
      .setIssuer(withKeys.id)
      .setSubject(withKeys.id)
      .setAudience(server.issuer)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(withKeys.key);
    await assertRefused(at(withSub), /'sub'/, 'invalid_request_object');
  });

  test('a JWT typed as a request object is no client assertion at the token endpoint; the same claims untyped are', async () => {
    const assertion = (typ?: string) =>
      new SignJWT({ jti: crypto.randomUUID() })
        .setProtectedHeader({ alg: 'ES256', kid: withKeys.kid, ...(typ && { typ }) })
        .setIssuer(withKeys.id)
        .setSubject(withKeys.id)
        .setAudience(server.issuer)
        .setIssuedAt()
        .setExpirationTime('1m')
        .sign(withKeys.key);
    const exchange = async (clientAssertion: string) => {
      const response = await fetch(`${server.issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: 'not-a-code',
          redirect_uri: REDIRECT,
          code_verifier: 'v'.repeat(43),
          client_id: withKeys.id,
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: clientAssertion,
        }),
      });
      return { status: response.status, error: ((await response.json()) as { error: string }).error };
    };
    assert.deepEqual(await exchange(await assertion('oauth-authz-req+jwt')), { status: 401, error: 'invalid_client' });
    assert.deepEqual(await exchange(await assertion('application/oauth-authz-req+jwt')), { status: 401, error: 'invalid_client' });
    // Authenticated: only the made-up code is wrong.
    assert.deepEqual(await exchange(await assertion()), { status: 400, error: 'invalid_grant' });
  });
});

describe('the requirements are switched by the registry', () => {
  test('a request pushed plain before signed requests were required is refused at /auth afterwards', async () => {
    const switcher = await signer('switcher', false);
    const { params } = await pkceParams();
    const pushed = await oidc.buildAuthorizationUrlWithPAR(switcher.config, params);
    await server.services.clients.update('switcher', { requireSignedRequests: true });
    await assertRefused(pushed, /request object must be used/i);
  });

  test('a client that must sign keeps its keys: rotating it to a secret is refused until the requirement is turned off', async () => {
    await assert.rejects(() => server.services.clients.rotateSecret('jar-only', { authMethod: 'client_secret_basic' }), /requireSignedRequests: .*--no-require-signed-requests/);
    const kept = await server.services.clients.get('jar-only');
    assert.equal(kept.authMethod, 'private_key_jwt');
    assert.ok(kept.jwks, 'its keys are still registered');
  });

  test('turning PAR off lets a plain request through at once; turning it on again refuses it', async () => {
    await server.services.clients.update('par-only', { requirePushedRequests: false });
    await completes(parOnly, await plainUrl(parOnly));
    await server.services.clients.update('par-only', { requirePushedRequests: true });
    await assertRefused((await plainUrl(parOnly)).url, /pushed authorization request/i);
  });
});
