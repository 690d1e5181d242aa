import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';

import Koa from 'koa';

import { cspNonce, securityHeaders } from '../../src/http/index.ts';

// The nonces are cut from a pooled block of random bytes: each response must still get its
// own, never one seen before, across many refills of the pool.

test('every response gets a nonce of 16 random bytes that no other response had, across pool refills', async () => {
  const app = new Koa();
  app.use(securityHeaders({ hsts: false }));
  app.use((ctx) => {
    ctx.body = cspNonce(ctx);
  });
  const handle = app.callback();
  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    const seen = new Set<string>();
    for (let i = 0; i < 700; i++) {
      const response = await fetch(`http://127.0.0.1:${port}/`);
      const nonce = await response.text();
      assert.equal(Buffer.from(nonce, 'base64').length, 16);
      assert.match(response.headers.get('content-security-policy') ?? '', new RegExp(`'nonce-${nonce.replace(/[+/=]/g, '\\$&')}'`));
      assert.ok(!seen.has(nonce), `nonce ${nonce} was used twice`);
      seen.add(nonce);
    }
  } finally {
    server.close();
  }
});
