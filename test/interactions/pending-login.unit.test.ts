import assert from 'node:assert/strict';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { test } from 'node:test';

import Koa from 'koa';

import { credentialOf, keepPendingLogin } from '../../src/interactions/pending-login.ts';

// A pending sign-in lasts ten minutes from its password, however often a page keeps it again.

const MINUTE = 60_000;

function kept(pending: Parameters<typeof keepPendingLogin>[1], now: number): { until: number } {
  const app = new Koa();
  app.keys = ['a key for the test'];
  const req = new IncomingMessage(new Socket());
  const ctx = app.createContext(req, new ServerResponse(req));
  keepPendingLogin(ctx, pending, now);
  const cookies = ctx.response.headers['set-cookie'] as string[];
  const value = /^portcullis\.pending-login=([^;]+)/.exec(cookies.find((c) => c.startsWith('portcullis.pending-login='))!)![1]!;
  return JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as { until: number };
}

const base = { uid: 'u1', accountId: 'a1', password: true, credential: credentialOf({ passwordHash: '$argon2id$x' }) };

test('a new pending sign-in gets ten minutes; one kept again keeps its own end, never a later one', () => {
  const t0 = 1_000_000_000_000;
  assert.equal(kept(base, t0).until, t0 + 10 * MINUTE);
  assert.equal(kept({ ...base, until: t0 + 10 * MINUTE }, t0 + 9 * MINUTE).until, t0 + 10 * MINUTE);
  assert.equal(kept({ ...base, until: t0 + 60 * MINUTE }, t0).until, t0 + 10 * MINUTE, 'never more than ten minutes ahead');
});

test("the credential fingerprint changes with the password hash and does not contain it", () => {
  const one = credentialOf({ passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA' });
  assert.notEqual(one, credentialOf({ passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdDI$aGFzaDI' }));
  assert.ok(!one.includes('argon2'));
  assert.notEqual(credentialOf({ passwordHash: null }), one);
});
