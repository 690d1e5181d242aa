import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { basicAuth } from '../helpers/token-endpoint.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// The admin API spends the budget of the token's subject (RATE_LIMIT_ACCOUNT): automation in
// a loop is held back per client, whatever addresses it calls from.

let server: TestServer;

before(async () => {
  server = await startTestServer({ ADMIN_API: 'true', RATE_LIMIT_ACCOUNT: '3/1m' });
});

after(async () => {
  await server?.close();
});

test('a client over its budget gets a 429 problem with Retry-After', async () => {
  const resource = `${server.issuer}/admin`;
  const { client, clientSecret } = await server.services.clients.create({ type: 'service', name: 'Busy', resources: [resource], scopes: ['admin:read'] });
  const response = await fetch(`${server.issuer}/token`, {
    method: 'POST',
    headers: { authorization: basicAuth(client.clientId, clientSecret!), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource, scope: 'admin:read' }),
  });
  const { access_token: token } = (await response.json()) as { access_token: string };
  const statuses: number[] = [];
  let last: Response | undefined;
  for (let i = 0; i < 4; i += 1) {
    last = await fetch(`${server.issuer}/admin/api/v1/clients`, { headers: { authorization: `Bearer ${token}` } });
    statuses.push(last.status);
  }
  assert.deepEqual(statuses, [200, 200, 200, 429]);
  assert.ok(Number(last!.headers.get('retry-after')) > 0);
  assert.match(last!.headers.get('content-type') ?? '', /^application\/problem\+json/);
  const problem = (await last!.json()) as { status: number; code: string };
  assert.equal(problem.status, 429);
  assert.equal(problem.code, 'too_many_requests');
});
