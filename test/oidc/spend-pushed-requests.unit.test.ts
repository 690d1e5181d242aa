import assert from 'node:assert/strict';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { describe, test } from 'node:test';

import { UnsecuredJWT } from 'jose';
import Koa from 'koa';

import { spendPushedRequests } from '../../src/oidc/spend-pushed-requests.ts';
import type { PushedRequestStore } from '../../src/oidc/token-store.ts';

// The single use of a pushed request (src/oidc/spend-pushed-requests.ts), around a stand-in
// for the engine's answer to /auth: the first authorization keeps it; any other, and any whose
// take could not be written (the database gone), leaves with nothing it could be resumed from.

/** A pushed request as the engine keeps it: its parameters in an unsecured request object. */
const pushedBy = (clientId: string) => new UnsecuredJWT({ client_id: clientId, response_type: 'code' }).encode();

function authorization(options: { pushedBy?: string } = {}) {
  const destroyed: string[] = [];
  const ctx = new Koa().createContext(new IncomingMessage(new Socket()), new ServerResponse(new IncomingMessage(new Socket())));
  const entity = (name: string) => ({ destroy: () => Promise.resolve(void destroyed.push(name)) });
  Object.assign(ctx, {
    oidc: {
      route: 'authorization',
      client: { clientId: 'web' },
      entities: {
        PushedAuthorizationRequest: { jti: 'par-1', exp: Math.floor(Date.now() / 1000) + 60, request: pushedBy(options.pushedBy ?? 'web') },
        Interaction: entity('Interaction'),
        AuthorizationCode: entity('AuthorizationCode'),
      },
    },
  });
  const engine = () => {
    ctx.status = 303;
    ctx.set('Location', '/interaction/abc');
    ctx.set('Set-Cookie', '_interaction=abc');
    return Promise.resolve();
  };
  return { ctx, engine, destroyed };
}

const store = (take: PushedRequestStore['takePushedRequest']): PushedRequestStore => ({ takePushedRequest: take });

describe('a pushed request starts one authorization (unit)', () => {
  test('the first authorization keeps the engine’s answer', async () => {
    const { ctx, engine, destroyed } = authorization();
    await spendPushedRequests(store(() => Promise.resolve(true)))(ctx, engine);
    assert.equal(ctx.status, 303);
    assert.equal(ctx.response.get('Location'), '/interaction/abc');
    assert.deepEqual(destroyed, []);
  });

  test('another is invalid_request_uri, without the redirect, the cookie, the interaction or a code', async () => {
    const { ctx, engine, destroyed } = authorization();
    await spendPushedRequests(store(() => Promise.resolve(false)))(ctx, engine);
    assert.equal(ctx.status, 400);
    assert.equal((ctx.body as { error: string }).error, 'invalid_request_uri');
    assert.equal(ctx.response.headers.location, undefined);
    assert.equal(ctx.response.headers['set-cookie'], undefined);
    assert.deepEqual(destroyed.sort(), ['AuthorizationCode', 'Interaction']);
  });

  test('another client’s authorization with it is invalid_request_uri, without a redirect, and does not spend it', async () => {
    const { ctx, engine, destroyed } = authorization({ pushedBy: 'other' });
    let takes = 0;
    await spendPushedRequests(store(() => Promise.resolve(++takes > 0)))(ctx, engine);
    assert.equal(ctx.status, 400);
    assert.equal((ctx.body as { error: string }).error, 'invalid_request_uri');
    assert.equal(ctx.response.headers.location, undefined);
    assert.equal(ctx.response.headers['set-cookie'], undefined);
    assert.deepEqual(destroyed.sort(), ['AuthorizationCode', 'Interaction']);
    assert.equal(takes, 0, 'left for the client that pushed it');
  });

  test('with the database gone it fails closed: 503 with Retry-After, and nothing that could be resumed', async () => {
    const { ctx, engine, destroyed } = authorization();
    await spendPushedRequests(store(() => Promise.reject(new Error('connection refused'))))(ctx, engine);
    assert.equal(ctx.status, 503);
    assert.equal((ctx.body as { error: string }).error, 'temporarily_unavailable');
    assert.equal(ctx.response.get('Retry-After'), '1');
    assert.equal(ctx.response.headers.location, undefined);
    assert.equal(ctx.response.headers['set-cookie'], undefined);
    assert.deepEqual(destroyed.sort(), ['AuthorizationCode', 'Interaction']);
  });
});
