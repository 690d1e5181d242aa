import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import * as oidc from 'openid-client';

import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// Discovery for clients that speak plain OAuth (RFC 8414) as well as OpenID Connect: the
// engine answers /.well-known/oauth-authorization-server with the very document of
// /.well-known/openid-configuration, and here both are shown to be one document behind one
// set of guarantees (caching, CORS, request budgets), with openid-client discovering the
// issuer either way. The account API's metadata (RFC 9728) is held to the same headers.

const OPENID = '/.well-known/openid-configuration';
const OAUTH = '/.well-known/oauth-authorization-server';
const RESOURCE = '/.well-known/oauth-protected-resource/api';
const REGISTERED_ORIGIN = 'https://app.example';
const OTHER_ORIGIN = 'https://evil.example';
const REDIRECT = 'https://app.example/callback';
const insecure = { execute: [oidc.allowInsecureRequests] };

let server: TestServer;
/** The same deployment with a small per-address budget, asked from made-up addresses. */
let limited: TestServer;

before(async () => {
  const declare = { clients: [{ clientId: 'app', type: 'web' as const, name: 'App', redirectUris: [REDIRECT], corsOrigins: [REGISTERED_ORIGIN] }] };
  server = await startTestServer({ LOG_LEVEL: 'warn' }, { declare });
  limited = await startTestServer({ LOG_LEVEL: 'warn', TRUST_PROXY: 'true', RATE_LIMIT_IP: '6/1m' });
});

after(async () => {
  await server?.close();
  await limited?.close();
});

async function get(base: TestServer, path: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${base.issuer}${path}`, { headers });
  const text = await response.text();
  return { response, status: response.status, headers: response.headers, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

describe('RFC 8414 authorization-server metadata', () => {
  test('is the OpenID discovery document, field for field', async () => {
    const openid = await get(server, OPENID);
    const oauth = await get(server, OAUTH);
    assert.equal(openid.status, 200);
    assert.equal(oauth.status, 200);
    assert.deepEqual(oauth.json, openid.json);
    // What an RFC 8414 client checks (section 3.3) and uses.
    assert.equal(oauth.json.issuer, server.issuer);
    assert.equal(oauth.json.pushed_authorization_request_endpoint, `${server.issuer}/request`);
    assert.deepEqual(oauth.json.code_challenge_methods_supported, ['S256']);
    assert.deepEqual(oauth.json.response_types_supported, ['code']);
  });

  test('carries the same headers: JSON, public caching for five minutes, nothing personal', async () => {
    // Twice each: the engine's first answer, then the copy answered without it.
    for (let round = 0; round < 2; round++) {
      const openid = await get(server, OPENID);
      const oauth = await get(server, OAUTH);
      assert.deepEqual(oauth.json, openid.json);
      for (const name of ['content-type', 'cache-control', 'vary', 'x-content-type-options', 'access-control-allow-origin']) {
        assert.equal(oauth.headers.get(name), openid.headers.get(name), `${name} (round ${round})`);
      }
      assert.equal(oauth.headers.get('cache-control'), 'public, max-age=300');
      assert.match(oauth.headers.get('content-type') ?? '', /^application\/json/);
      assert.equal(oauth.headers.get('set-cookie'), null);
    }
  });

  test('answers a registered origin across origins as discovery does, and no other', async () => {
    for (const path of [OPENID, OAUTH, RESOURCE]) {
      const registered = await get(server, path, { origin: REGISTERED_ORIGIN });
      assert.equal(registered.status, 200, path);
      assert.equal(registered.headers.get('access-control-allow-origin'), REGISTERED_ORIGIN, path);
      assert.equal(registered.headers.get('access-control-allow-credentials'), null, path);
      const other = await get(server, path, { origin: OTHER_ORIGIN });
      assert.equal(other.status, 200, path);
      assert.equal(other.headers.get('access-control-allow-origin'), null, path);
    }
  });

  test('is not answered to other methods', async () => {
    for (const path of [OPENID, OAUTH, RESOURCE]) {
      const response = await fetch(`${server.issuer}${path}`, { method: 'POST', body: 'x=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      await response.body?.cancel();
      assert.ok(response.status === 404 || response.status === 405, `${path}: ${response.status}`);
    }
  });

  test('openid-client discovers the issuer through either document and gets the same metadata', async () => {
    const byOpenid = await oidc.discovery(new URL(server.issuer), 'app', undefined, undefined, { ...insecure, algorithm: 'oidc' });
    const byOauth = await oidc.discovery(new URL(server.issuer), 'app', undefined, undefined, { ...insecure, algorithm: 'oauth2' });
    assert.deepEqual(byOauth.serverMetadata(), byOpenid.serverMetadata());
    assert.equal(byOauth.serverMetadata().issuer, server.issuer);
  });

  test('spends from the same per-address budget as discovery and is refused the same way', async () => {
    const address = '198.51.100.7';
    const paths = [OPENID, OAUTH, RESOURCE, OPENID, OAUTH, RESOURCE];
    const policies = new Set<string | null>();
    for (const path of paths) {
      const answer = await get(limited, path, { 'x-forwarded-for': address });
      assert.equal(answer.status, 200, path);
      policies.add(answer.headers.get('ratelimit-policy'));
    }
    assert.deepEqual([...policies], ['"ip";q=6;w=60'], 'every document spends the address budget alone');
    for (const path of [OPENID, OAUTH, RESOURCE]) {
      const refused = await get(limited, path, { 'x-forwarded-for': address });
      assert.equal(refused.status, 429, path);
      assert.ok(Number(refused.headers.get('retry-after')) > 0, path);
      assert.equal(refused.json.error, 'too_many_requests', path);
    }
    // Another address is not held back by this one.
    assert.equal((await get(limited, OAUTH, { 'x-forwarded-for': '198.51.100.8' })).status, 200);
  });
});
