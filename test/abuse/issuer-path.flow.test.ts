import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// With a path in ISSUER (https://id.example.com/tenant) the engine still serves its endpoints
// at the root (its discovery says so: the proxy routes them there), while the engine's
// pathFor names them under the issuer's path. Every budget, throttle and guard keyed by an
// endpoint's path must key it as requests arrive, or a path issuer would turn them all off.

let server: TestServer;
let local: string;

before(async () => {
  server = await startTestServer({ ISSUER: 'http://127.0.0.1:9/tenant', LOG_LEVEL: 'error', RATE_LIMIT_API: '3/1m' }, {
    declare: { clients: [{ clientId: 'svc', type: 'service', name: 'Service' }] },
  });
  local = `http://127.0.0.1:${server.config.port}`;
});

after(async () => {
  await server?.close();
});

test('discovery names the endpoints at the root', async () => {
  const document = (await (await fetch(`${local}/.well-known/openid-configuration`)).json()) as Record<string, string>;
  assert.equal(document.issuer, 'http://127.0.0.1:9/tenant');
  assert.equal(document.token_endpoint, 'http://127.0.0.1:9/token');
});

test('wrong client secrets at the token endpoint are throttled', async () => {
  const seen: number[] = [];
  for (let attempt = 0; attempt < 12; attempt++) {
    const response = await fetch(`${local}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from('svc:wrong-secret').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
    await response.arrayBuffer();
    seen.push(response.status);
  }
  assert.equal(seen[0], 401);
  assert.ok(seen.includes(429), `refused within twelve wrong secrets: ${seen.join(', ')}`);
});

test('the account page’s client is served only to the browser that started its sign-in', async () => {
  const response = await fetch(`${local}/auth?client_id=portcullis-account&response_type=code&state=someone-elses&redirect_uri=${encodeURIComponent('http://127.0.0.1:9/account/callback')}`, { redirect: 'manual' });
  assert.equal(response.status, 400);
  assert.match(await response.text(), /Sign-in did not finish/);
});
