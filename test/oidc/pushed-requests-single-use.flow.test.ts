import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { basicAuth } from '../helpers/token-endpoint.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// A pushed authorization request (RFC 9126) is good for one authorization: its
// request_uri, once used at /auth, is spent, also when a burst of requests presents it at
// once (section 4: "a request_uri ... MUST be used only once").

const REDIRECT = 'http://localhost:8080/callback';

let server: TestServer;
let web: { id: string; secret: string };

before(async () => {
  server = await startTestServer();
  const created = await server.services.clients.create({ type: 'web', name: 'Web', redirectUris: [REDIRECT], scopes: ['openid'] });
  web = { id: created.client.clientId, secret: created.clientSecret! };
});

after(async () => {
  await server?.close();
});

async function push(): Promise<string> {
  const response = await fetch(`${server.issuer}/request`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(web.id, web.secret) },
    body: new URLSearchParams({
      client_id: web.id,
      redirect_uri: REDIRECT,
      response_type: 'code',
      scope: 'openid',
      state: 'st',
      code_challenge: 'c'.repeat(43),
      code_challenge_method: 'S256',
    }),
  });
  assert.equal(response.status, 201);
  return ((await response.json()) as { request_uri: string }).request_uri;
}

/**
 * Whether /auth took the pushed request (it starts an interaction: a redirect to the login),
 * and the error it answered otherwise, in a JSON body or on a redirect to the client.
 */
async function authorize(requestUri: string): Promise<{ status: number; started: boolean; error: string | undefined }> {
  const response = await fetch(`${server.issuer}/auth?${new URLSearchParams({ client_id: web.id, request_uri: requestUri }).toString()}`, { redirect: 'manual' });
  const text = await response.text();
  const location = response.headers.get('location') ?? '';
  const error = location
    ? (new URL(location, server.issuer).searchParams.get('error') ?? undefined)
    : (response.headers.get('content-type') ?? '').includes('json')
      ? (JSON.parse(text) as { error?: string }).error
      : undefined;
  return { status: response.status, started: location.startsWith('/interaction/'), error };
}

describe('a pushed request is used once', () => {
  test('its request_uri starts one authorization; presented again it is refused', async () => {
    const requestUri = await push();
    assert.equal((await authorize(requestUri)).started, true);
    const again = await authorize(requestUri);
    assert.equal(again.started, false);
    assert.equal(again.status, 400);
    assert.equal(again.error, 'invalid_request_uri');
  });

  test('of a concurrent burst presenting one request_uri exactly one starts an authorization, none fails with a 5xx', async () => {
    const requestUri = await push();
    const answers = await Promise.all(Array.from({ length: 12 }, () => authorize(requestUri)));
    assert.equal(answers.filter((answer) => answer.status >= 500).length, 0);
    assert.equal(answers.filter((answer) => answer.started).length, 1);
    assert.deepEqual(new Set(answers.filter((answer) => !answer.started).map((answer) => answer.error)), new Set(['invalid_request_uri']), 'every other is refused as the RFC names it');
  });
});
