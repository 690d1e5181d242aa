import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';

import Koa from 'koa';

import { createPublishedDocuments } from '../../src/oidc/published-documents.ts';

// Which answers become copies, seen from how often the engine is asked: a stand-in for the
// engine behind the app-side answer, routing as the engine's router does (any case, one
// trailing slash).

let engineCalls = 0;
let base = '';
let close: () => void;

before(async () => {
  const documents = createPublishedDocuments({ jwksMaxAge: 600, jwksPath: '/jwks' });
  const app = new Koa();
  app.use(documents.answer);
  app.use(async (ctx, next) => {
    // What the engine's context carries for its route.
    const route = /^\/jwks\/?$/i.test(ctx.path) ? 'jwks' : /^\/\.well-known\/openid-configuration\/?$/i.test(ctx.path) ? 'discovery' : undefined;
    Object.assign(ctx, { oidc: { route } });
    await documents.record(ctx, next);
  });
  app.use((ctx) => {
    engineCalls++;
    const route = (ctx as unknown as { oidc: { route?: string } }).oidc.route;
    if (!route || ctx.query.fail !== undefined) {
      ctx.status = ctx.query.fail ? 500 : 404;
      ctx.body = { error: 'x' };
      return;
    }
    ctx.body = { route, keys: [] };
    ctx.type = route === 'jwks' ? 'application/jwk-set+json; charset=utf-8' : 'application/json; charset=utf-8';
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = () => server.close();
});

after(() => close());

async function calls(path: string, init?: RequestInit): Promise<number> {
  const before = engineCalls;
  const response = await fetch(`${base}${path}`, init);
  await response.arrayBuffer();
  return engineCalls - before;
}

test('an error is never copied', async () => {
  assert.equal(await calls('/jwks?fail=1'), 1);
  assert.equal(await calls('/jwks?fail=1'), 1);
});

test('the exact path is answered by the engine once, then from the copy', async () => {
  assert.equal(await calls('/jwks'), 1);
  assert.equal(await calls('/jwks'), 0);
  assert.equal(await calls('/.well-known/openid-configuration'), 1);
  assert.equal(await calls('/.well-known/openid-configuration'), 0);
});

test('variants of the path (case, a trailing slash) always go to the engine and are never copied', async () => {
  for (const variant of ['/JWKS', '/jwks/', '/Jwks/', '/.WELL-KNOWN/openid-configuration']) {
    assert.equal(await calls(variant), 1, variant);
    assert.equal(await calls(variant), 1, `${variant} again`);
  }
});

test('another method or a cross-origin request goes to the engine', async () => {
  assert.equal(await calls('/jwks', { method: 'HEAD' }), 1);
  assert.equal(await calls('/jwks', { headers: { origin: 'https://app.example' } }), 1);
});
