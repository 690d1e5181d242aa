import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// The account page's forms check a current password, or mail or take a code: each POST spends
// the RATE_LIMIT_LOGIN budget of its address, as the sign-in forms do, before the page looks
// at its session, in every spelling the router takes.

let server: TestServer;

before(async () => {
  server = await startTestServer({ LOG_LEVEL: 'error', RATE_LIMIT_LOGIN: '3/1m' });
});

after(async () => {
  await server?.close();
});

test('every form of the account page spends the login budget', async () => {
  const seen: string[] = [];
  for (const path of ['/account/password', '/ACCOUNT/email/code', '/account/authenticator/', '/account/email', '/account/sessions/end-all']) {
    const response = await fetch(`${server.issuer}${path}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'current=x',
    });
    await response.arrayBuffer();
    seen.push(`${path} ${response.status}`);
  }
  const codes = seen.map((line) => Number(line.split(' ')[1]));
  assert.deepEqual(codes.slice(0, 3), [303, 303, 303], seen.join(', '));
  assert.deepEqual(codes.slice(3), [429, 429], `the fourth and later are refused: ${seen.join(', ')}`);
});

test('the page itself (GET) spends no login budget', async () => {
  const response = await fetch(`${server.issuer}/account`, { redirect: 'manual' });
  assert.equal(response.status, 302);
});
