import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// The routers match paths without regard to ASCII case and with or without one trailing
// slash (the engine's, and @koa/router's defaults): `/TOKEN` and `/token/` are the token
// endpoint. So every budget and throttle keyed by path must see them as the endpoint too, or
// a variant is a way around it (http/routed-path.ts).

let server: TestServer;

before(async () => {
  server = await startTestServer({ LOG_LEVEL: 'error', RATE_LIMIT_API: '3/1m', RATE_LIMIT_LOGIN: '3/1m' }, {
    declare: { clients: [{ clientId: 'svc', type: 'service', name: 'Service' }] },
  });
});

after(async () => {
  await server?.close();
});

const statuses = async (paths: readonly string[], rounds: number, init: (path: string) => RequestInit = () => ({})): Promise<string[]> => {
  const seen: string[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const path of paths) {
      const response = await fetch(`${server.issuer}${path}`, init(path));
      await response.arrayBuffer();
      seen.push(`${path} ${response.status}`);
    }
  }
  return seen;
};

test('wrong client secrets at variants of the token endpoint are throttled together', async () => {
  const variants = ['/TOKEN', '/token/', '/Token/', '/tOKEN'];
  const seen = await statuses(variants, 4, () => ({
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from('svc:wrong-secret').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  }));
  assert.ok(seen.slice(0, 2).every((line) => line.endsWith(' 401')), seen.join(', '));
  const refused = seen.findIndex((line) => line.endsWith(' 429'));
  assert.ok(refused > 0 && refused < 10, `refused within the first ten wrong secrets: ${seen.join(', ')}`);
  assert.ok(seen.slice(refused).every((line) => line.endsWith(' 429')), `then refused at every variant: ${seen.join(', ')}`);
  // The endpoint itself is refused as well: one throttle for all of them.
  const [exact] = await statuses(['/token'], 1, () => ({
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from('svc:wrong-secret').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  }));
  assert.equal(exact, '/token 429');
});

test('variants of the API\'s paths spend the API budget', async () => {
  const seen = await statuses(['/API/me', '/api/me/', '/Api/Me'], 2);
  assert.deepEqual(seen.map((line) => line.split(' ')[1]), ['401', '401', '401', '429', '429', '429'], seen.join(', '));
});

test('variants of the password forms spend the login budget', async () => {
  const seen = await statuses(['/interaction/abc/LOGIN', '/interaction/abc/login/', '/PASSWORD-RESET', '/password-reset/new/'], 2, () => ({
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'email=a%40b.example&password=x',
  }));
  const codes = seen.map((line) => Number(line.split(' ')[1]));
  assert.ok(codes.slice(0, 3).every((code) => code !== 429 && code < 500), seen.join(', '));
  assert.ok(codes.slice(3).every((code) => code === 429), `the fourth and later are refused: ${seen.join(', ')}`);
});
