import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';

import type { Browser } from 'playwright-core';

import { launchChromium, newPerson, type CspViolation } from '../helpers/browser.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// The account page where ISSUER has a path (https://id.example.com/tenant): the engine's
// endpoints are at the issuer's origin (its discovery says so), the discovery document under
// the path, and a proxy strips the path before the server sees a request. In a real
// Chromium, which keeps each cookie to its path: the page at the root, its sign-in through
// /auth (the guard's cookie on that path), the discovery and code exchange in-process with
// the path taken off, the page, and sign-out.

const PASSWORD = 'a tenant password, long enough';
const PREFIX = '/tenant';

let proxy: Server;
let server: TestServer;
let browser: Browser;
let origin: string;
const violations: CspViolation[] = [];

before(async () => {
  let upstreamPort = 0;
  proxy = createServer((incoming, outgoing) => {
    const url = incoming.url ?? '/';
    const path = url === PREFIX || url.startsWith(`${PREFIX}/`) || url.startsWith(`${PREFIX}?`) ? url.slice(PREFIX.length) || '/' : url;
    const upstream = request({ host: '127.0.0.1', port: upstreamPort, path, method: incoming.method, headers: incoming.headers }, (answer) => {
      outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(outgoing);
    });
    upstream.on('error', () => outgoing.destroy());
    incoming.pipe(upstream);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  [server, browser] = await Promise.all([startTestServer({ ISSUER: `${origin}${PREFIX}` }), launchChromium()]);
  upstreamPort = server.config.port;
  await server.services.accounts.create({ email: 'mary@example.com', name: 'Mary Jackson', password: PASSWORD });
});

after(async () => {
  await browser?.close();
  await server?.close();
  await new Promise((resolve) => proxy?.close(resolve));
});

test('with a path in the issuer, the page signs in and signs out', async () => {
  const { page, context } = await newPerson(browser, { violations });
  const seen: string[] = [];
  page.on('request', (sent) => seen.push(new URL(sent.url()).pathname));
  await page.goto(`${origin}/account`);
  await page.getByLabel('Email').fill('mary@example.com');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Your account' }).waitFor();
  assert.equal(new URL(page.url()).pathname, '/account');
  assert.ok(seen.includes('/auth'), `the sign-in went through the authorization endpoint: ${seen.join(' ')}`);
  assert.ok(seen.includes('/account/callback'));

  await page.getByRole('button', { name: 'Sign out', exact: true }).last().click();
  await page.getByRole('heading', { level: 1, name: 'Sign out?' }).waitFor();
  assert.equal(new URL(page.url()).pathname, '/session/end');
  await context.close();
  assert.deepEqual(violations, []);
});
