import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// Discovery and the JWKS are answered by the engine once, then from its copy
// (oidc/published-documents.ts). A copy must be indistinguishable from the engine's own
// answer, still pass every check that runs before it (budgets, headers, request ids), and
// never answer what it was not made for: another method, a cross-origin request.

const PATHS = ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server', '/jwks'];
const SPA_ORIGIN = 'https://spa.example';

let server: TestServer;

before(async () => {
  server = await startTestServer({ LOG_LEVEL: 'warn', RATE_LIMIT_IP: '60/1m' }, {
    declare: () => ({
      clients: [{ clientId: 'spa', type: 'spa', name: 'SPA', redirectUris: [`${SPA_ORIGIN}/cb`], corsOrigins: [SPA_ORIGIN] }],
    }),
  });
});

after(async () => {
  await server?.close();
});

const HEADERS = ['content-type', 'cache-control', 'vary', 'content-security-policy', 'x-content-type-options', 'x-frame-options', 'referrer-policy'];

async function get(path: string, headers: Record<string, string> = {}, method = 'GET') {
  const response = await fetch(`${server.issuer}${path}`, { method, headers });
  const body = await response.text();
  return { response, body, headers: Object.fromEntries(HEADERS.map((name) => [name, response.headers.get(name)])) };
}

test('the copy answers exactly what the engine answered, with the headers every response carries', async () => {
  for (const path of PATHS) {
    const first = await get(path);
    const second = await get(path);
    assert.equal(first.response.status, 200, path);
    assert.equal(second.response.status, 200, path);
    assert.equal(second.body, first.body, `${path}: same document`);
    assert.ok(JSON.parse(second.body), `${path}: JSON`);
    // The CSP differs only in its per-response nonce.
    const withoutNonce = (headers: Record<string, string | null>) => ({ ...headers, 'content-security-policy': headers['content-security-policy']?.replace(/'nonce-[^']+'/g, "'nonce'") });
    assert.deepEqual(withoutNonce(second.headers), withoutNonce(first.headers), `${path}: same headers`);
    assert.notEqual(second.headers['content-security-policy'], first.headers['content-security-policy'], `${path}: a fresh nonce`);
    assert.match(second.headers.vary ?? '', /\bOrigin\b/i);
    assert.match(second.headers['cache-control'] ?? '', /^public, max-age=\d+$/);
    assert.notEqual(second.response.headers.get('x-request-id'), first.response.headers.get('x-request-id'), 'each answer has its own request id');
    assert.equal(second.response.headers.get('access-control-allow-origin'), null, 'no CORS answer without an Origin');
  }
  const jwks = JSON.parse((await get('/jwks')).body) as { keys: { kid: string; d?: string }[] };
  assert.deepEqual(jwks.keys.map((key) => key.kid).sort(), server.keys().jwks.keys.map((key) => key.kid).sort());
  assert.ok(jwks.keys.every((key) => key.d === undefined), 'public keys only');
});

test('a cross-origin request is never answered from the copy: registered origins only, as from the engine', async () => {
  for (const path of PATHS) {
    await get(path); // the copy exists
    const registered = await get(path, { origin: SPA_ORIGIN });
    assert.equal(registered.response.status, 200);
    assert.equal(registered.response.headers.get('access-control-allow-origin'), SPA_ORIGIN, path);
    const other = await get(path, { origin: 'https://evil.example' });
    assert.equal(other.response.status, 200);
    assert.equal(other.response.headers.get('access-control-allow-origin'), null, path);
    assert.equal(other.body, registered.body);
  }
});

test('other methods still reach the engine', async () => {
  const head = await get('/jwks', {}, 'HEAD');
  assert.equal(head.response.status, 200);
  assert.equal(head.body, '');
  const post = await get('/jwks', {}, 'POST');
  assert.equal(post.response.status, 404);
  assert.equal((JSON.parse(post.body) as { error: string }).error, 'not_found');
});

test('metrics and logs name the copy as the engine route it stands for', async () => {
  await get('/.well-known/openid-configuration');
  const metrics = await (await fetch(`${server.managementUrl}/metrics`)).text();
  assert.match(metrics, /portcullis_http_request_duration_seconds_count\{[^}]*route="discovery"[^}]*status="200"[^}]*\} \d+/);
  assert.match(metrics, /portcullis_http_request_duration_seconds_count\{[^}]*route="jwks"[^}]*status="200"[^}]*\} \d+/);
});

test('path variants the engine also answers (case, a trailing slash) are answered by it', async () => {
  const canonical = (await get('/jwks')).body;
  for (const variant of ['/JWKS', '/jwks/', '/Jwks/']) {
    const answer = await get(variant);
    assert.equal(answer.response.status, 200, variant);
    assert.equal(answer.body, canonical, variant);
  }
  const discovery = await get('/.WELL-KNOWN/openid-configuration');
  assert.equal(discovery.response.status, 200);
  assert.equal(discovery.body, (await get('/.well-known/openid-configuration')).body);
});

// Last: it spends the address's budget.
test('the address\'s request budget is spent and enforced before the copy answers', async () => {
  let refused: Response | undefined;
  for (let i = 0; i < 80 && !refused; i++) {
    const { response } = await get('/.well-known/openid-configuration');
    if (response.status === 429) refused = response;
    else assert.equal(response.status, 200);
  }
  assert.ok(refused, 'refused within 80 requests at a budget of 60 a minute');
  assert.ok(Number(refused.headers.get('retry-after')) > 0);
});
