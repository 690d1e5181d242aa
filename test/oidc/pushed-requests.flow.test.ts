import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import * as oidc from 'openid-client';

import { hashTokenId } from '../../src/oidc/index.ts';
import { runBrowser } from '../helpers/browserless-login.ts';
import { basicAuth, postAsClient } from '../helpers/token-endpoint.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// Pushed authorization requests (RFC 9126), advertised by discovery, driven by openid-client
// from the push to the tokens, and refused where the RFC says: a client that does not
// authenticate (2.1), a request_uri in the push (2.1), a request_uri used twice (4), one that
// expired (2.2, 4), one pushed by another client (4: "bound to the client that posted").
// (test/oidc/pushed-requests-single-use.flow.test.ts adds a concurrent burst.)

const REDIRECT = 'https://web.example/callback';
const OTHER_REDIRECT = 'https://other.example/callback';
const NATIVE_REDIRECT = 'http://127.0.0.1:8731/callback';
const insecure = { execute: [oidc.allowInsecureRequests] };
const person = { email: 'pusher@example.com', password: 'a password long enough to push with' };

let server: TestServer;
let web: oidc.Configuration;
let native: oidc.Configuration;

before(async () => {
  server = await startTestServer({ LOG_LEVEL: 'warn' }, {
    declare: {
      clients: [
        { clientId: 'web', type: 'web', name: 'Web', redirectUris: [REDIRECT], scopes: ['openid', 'email'] },
        { clientId: 'other', type: 'web', name: 'Other', redirectUris: [OTHER_REDIRECT], scopes: ['openid', 'email'] },
        { clientId: 'native', type: 'native', name: 'Native', redirectUris: [NATIVE_REDIRECT], scopes: ['openid'] },
      ],
      users: [{ email: person.email, name: 'Pusher', password: person.password }],
    },
  });
  const issuer = new URL(server.issuer);
  web = await oidc.discovery(issuer, 'web', server.declared.clientSecret('web'), undefined, insecure);
  native = await oidc.discovery(issuer, 'native', undefined, oidc.None(), insecure);
});

after(async () => {
  await server?.close();
});

interface Pushed {
  readonly url: URL;
  readonly requestUri: string;
  readonly verifier: string;
  readonly state: string;
}

/** openid-client pushes the request (RFC 9126) and builds the authorization URL from the answer. */
async function push(config: oidc.Configuration, redirectUri = REDIRECT): Promise<Pushed> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const url = await oidc.buildAuthorizationUrlWithPAR(config, {
    redirect_uri: redirectUri,
    scope: 'openid',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
  });
  const requestUri = url.searchParams.get('request_uri');
  assert.ok(requestUri);
  return { url, requestUri, verifier, state };
}

interface AuthorizeAnswer {
  readonly status: number;
  /** Where the browser is sent, if anywhere. */
  readonly location: URL | undefined;
  /** The OAuth error: on the redirect, in a JSON body, or on the error page. */
  readonly error: string | undefined;
}

/** The issuer's answer to a browser's /auth with these parameters. */
async function authorize(params: Record<string, string>): Promise<AuthorizeAnswer> {
  const response = await fetch(`${server.issuer}/auth?${new URLSearchParams(params).toString()}`, { redirect: 'manual' });
  const text = await response.text();
  const header = response.headers.get('location');
  const location = header ? new URL(header, server.issuer) : undefined;
  const error = location
    ? (location.searchParams.get('error') ?? undefined)
    : (response.headers.get('content-type') ?? '').includes('json')
      ? (JSON.parse(text) as { error?: string }).error
      : /<dd><code>([a-z_]+)<\/code><\/dd>/.exec(text)?.[1];
  return { status: response.status, location, error };
}

/**
 * Refused as `error`, and nothing issued: either a 400 shown to the browser, or the error
 * sent to the requesting client's own registered redirect URI, without a code.
 */
function assertRefused(answer: AuthorizeAnswer, error: string, registeredRedirect: string) {
  assert.equal(answer.error, error, JSON.stringify(answer));
  if (answer.location) {
    assert.equal(answer.status, 303);
    assert.equal(`${answer.location.origin}${answer.location.pathname}`, registeredRedirect);
    assert.equal(answer.location.searchParams.get('code'), null);
  } else {
    assert.equal(answer.status, 400);
  }
}

/** The row of a pushed request, by its request_uri (stored as a hash, as every bearer value). */
const rowId = (requestUri: string) => hashTokenId(requestUri.replace('urn:ietf:params:oauth:request_uri:', ''));

describe('pushed authorization requests with openid-client', () => {
  test('discovery advertises the endpoint', () => {
    assert.equal(web.serverMetadata().pushed_authorization_request_endpoint, `${server.issuer}/request`);
  });

  test('a confidential client pushes, the person signs in, the code is exchanged for tokens', async () => {
    const pushed = await push(web);
    // The front channel carries only the client and the reference (RFC 9126 section 4).
    assert.deepEqual([...pushed.url.searchParams.keys()].sort(), ['client_id', 'request_uri']);
    const browser = await runBrowser(pushed.url, person);
    const tokens = await oidc.authorizationCodeGrant(web, browser.url, { pkceCodeVerifier: pushed.verifier, expectedState: pushed.state });
    assert.equal(tokens.claims()?.sub, server.declared.accountId(person.email));
    assert.equal(tokens.claims()?.aud, 'web');
  });

  test('a public client pushes with PKCE alone and gets its tokens', async () => {
    const pushed = await push(native, NATIVE_REDIRECT);
    const browser = await runBrowser(pushed.url, person);
    assert.equal(browser.url.origin, new URL(NATIVE_REDIRECT).origin);
    const tokens = await oidc.authorizationCodeGrant(native, browser.url, { pkceCodeVerifier: pushed.verifier, expectedState: pushed.state });
    assert.equal(tokens.claims()?.aud, 'native');
  });
});

describe('pushed requests refused', () => {
  test('a push with a wrong client secret is 401 invalid_client, and nothing is stored', async () => {
    const wrong = await oidc.discovery(new URL(server.issuer), 'web', 'not-the-secret-of-web', undefined, insecure);
    const before = await server.database.prisma.oidcPushedAuthorizationRequest.count();
    await assert.rejects(
      () => push(wrong),
      (error: unknown) => {
        assert.ok(error instanceof oidc.ResponseBodyError, String(error));
        assert.equal(error.status, 401);
        assert.equal(error.error, 'invalid_client');
        return true;
      },
    );
    assert.equal(await server.database.prisma.oidcPushedAuthorizationRequest.count(), before);
  });

  test('a push naming a request_uri itself is refused (section 2.1: it MUST NOT be provided)', async () => {
    const { requestUri } = await push(web);
    const response = await postAsClient(`${server.issuer}/request`, basicAuth('web', server.declared.clientSecret('web')), {
      client_id: 'web',
      request_uri: requestUri,
      response_type: 'code',
      redirect_uri: REDIRECT,
      scope: 'openid',
      code_challenge: 'c'.repeat(43),
      code_challenge_method: 'S256',
    });
    assert.equal(response.status, 400);
    // The engine's code for a request_uri where none may be.
    assert.equal(((await response.json()) as { error: string }).error, 'request_uri_not_supported');
  });

  test('a push without PKCE, or to an unregistered redirect URI, is refused at the push', async () => {
    const secret = basicAuth('web', server.declared.clientSecret('web'));
    const withoutPkce = await postAsClient(`${server.issuer}/request`, secret, { client_id: 'web', response_type: 'code', redirect_uri: REDIRECT, scope: 'openid' });
    assert.equal(withoutPkce.status, 400);
    assert.equal(((await withoutPkce.json()) as { error: string }).error, 'invalid_request');
    const elsewhere = await postAsClient(`${server.issuer}/request`, secret, {
      client_id: 'web',
      response_type: 'code',
      redirect_uri: 'https://evil.example/callback',
      scope: 'openid',
      code_challenge: 'c'.repeat(43),
      code_challenge_method: 'S256',
    });
    assert.equal(elsewhere.status, 400);
    // invalid_request, as RFC 9126 section 2.4 has it (not the authorization endpoint's invalid_redirect_uri).
    const refusal = (await elsewhere.json()) as { error: string; error_description: string };
    assert.equal(refusal.error, 'invalid_request');
    assert.match(refusal.error_description, /redirect_uri/);
  });

  test('a push must name its client_id even when the client authenticated with Basic (what spendPushedRequests relies on)', async () => {
    const response = await postAsClient(`${server.issuer}/request`, basicAuth('web', server.declared.clientSecret('web')), {
      response_type: 'code',
      redirect_uri: REDIRECT,
      scope: 'openid',
      code_challenge: 'c'.repeat(43),
      code_challenge_method: 'S256',
    });
    assert.equal(response.status, 400);
    assert.deepEqual(await response.json(), { error: 'invalid_request', error_description: "missing required parameter 'client_id'" });
  });

  test('a request_uri used for a completed authorization is refused the second time', async () => {
    const pushed = await push(web);
    const browser = await runBrowser(pushed.url, person);
    await oidc.authorizationCodeGrant(web, browser.url, { pkceCodeVerifier: pushed.verifier, expectedState: pushed.state });
    assertRefused(await authorize({ client_id: 'web', request_uri: pushed.requestUri }), 'invalid_request_uri', REDIRECT);
  });

  test('an expired request_uri is refused, whether its row or its own expiry says so', async () => {
    // The row past its expiry (what the store honours) ...
    const byRow = await push(web);
    await server.database.pool.query(`UPDATE oidc_pushed_authorization_requests SET expires_at = now() - interval '1 second' WHERE id = $1`, [rowId(byRow.requestUri)]);
    assertRefused(await authorize({ client_id: 'web', request_uri: byRow.requestUri }), 'invalid_request_uri', REDIRECT);
    // ... and the payload's exp past while the row still lives (what the engine honours).
    const byPayload = await push(web);
    const updated = await server.database.pool.query(
      `UPDATE oidc_pushed_authorization_requests SET payload = jsonb_set(payload, '{exp}', to_jsonb(floor(extract(epoch from now()))::bigint - 1)) WHERE id = $1`,
      [rowId(byPayload.requestUri)],
    );
    assert.equal(updated.rowCount, 1);
    assertRefused(await authorize({ client_id: 'web', request_uri: byPayload.requestUri }), 'invalid_request_uri', REDIRECT);
  });

  test('another client cannot use a request_uri; the client that pushed it still can', async () => {
    const pushed = await push(web);
    // As pushed: refused, and nothing is sent anywhere, not even to the other client's own
    // (only) redirect URI, where the engine alone would send the pushed state.
    const stolen = await authorize({ client_id: 'other', request_uri: pushed.requestUri });
    assert.equal(stolen.status, 400, JSON.stringify(stolen));
    assert.equal(stolen.location, undefined);
    assert.equal(stolen.error, 'invalid_request_uri');
    // Naming the other client's own redirect URI changes nothing.
    const redirected = await authorize({ client_id: 'other', request_uri: pushed.requestUri, redirect_uri: OTHER_REDIRECT });
    assert.equal(redirected.status, 400, JSON.stringify(redirected));
    assert.equal(redirected.location, undefined);
    assert.equal(redirected.error, 'invalid_request_uri');
    // The client that pushed it goes through (the refusals did not spend its request), and
    // the code is its own.
    const browser = await runBrowser(pushed.url, person);
    assert.equal(`${browser.url.origin}${browser.url.pathname}`, REDIRECT);
    const tokens = await oidc.authorizationCodeGrant(web, browser.url, { pkceCodeVerifier: pushed.verifier, expectedState: pushed.state });
    assert.equal(tokens.claims()?.aud, 'web');
  });
});
