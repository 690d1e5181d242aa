import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import type { Context } from 'koa';
import { errors } from 'oidc-provider';

import { createSealer } from '../../src/crypto/index.ts';
import { arrivedWithin, MAX_PAUSE_MS } from '../../src/oidc/refresh-request.ts';
import { createRefreshRotation, type RefreshRotation } from '../../src/oidc/refresh-rotation.ts';
import { createMemoryTokenStore, type MemoryTokenStore } from '../fakes/memory-token-store.ts';

// The rules of refresh-token rotation (src/oidc/refresh-rotation.ts), against an in-memory
// store: the engine is played by a few lines per request that call the hooks in the order
// the engine does (read the token, run its checks, consume, issue). End to end, on both
// databases, see test/oidc/refresh-rotation.flow.test.ts.

const sealer = createSealer('unit-test-master-secret-long-enough-0123456789');

interface Caller {
  clientId: string;
  authMethod?: string;
  dpop?: string;
  /** The engine refuses this request before consuming (client mismatch, DPoP binding...). */
  refusedByEngine?: boolean;
}

interface Setup {
  store: MemoryTokenStore;
  rotation: RefreshRotation;
  /** Grants revoked as reuse: by the rotation (`grant`), or by the engine (`engine:grant`). */
  revoked: string[];
  grant: string;
}

function setup(options: { windowSeconds?: number; leaseMs?: number; store?: MemoryTokenStore; sealer?: typeof sealer; paused?: (from: number, to: number) => number } = {}): Setup {
  const store = options.store ?? createMemoryTokenStore();
  const revoked: string[] = [];
  const rotation = createRefreshRotation({
    store,
    sealer: options.sealer ?? sealer,
    windowSeconds: options.windowSeconds ?? 10,
    leaseMs: options.leaseMs ?? 200,
    paused: options.paused,
    revokeFamily: (_ctx, grantId) => {
      revoked.push(grantId);
      return store.revokeGrants([grantId]).then(() => undefined);
    },
  });
  const grant = 'grant-1';
  if (!options.store) {
    store.putGrant({ id: grant, accountId: 'a', clientId: 'web', payload: {}, expiresAt: null });
    store.putRefreshToken('rt-0', { grantId: grant });
  }
  return { store, rotation, revoked, grant };
}

let issued = 0;

/** One refresh request through the middleware, with the engine played by hand. */
async function refresh(s: Setup, id: string, caller: Caller, hooks: { beforeIssue?: () => Promise<void> } = {}) {
  const headers: Record<string, string> = caller.dpop ? { dpop: caller.dpop } : {};
  const ctx = {
    method: 'POST',
    status: 404,
    body: undefined as unknown,
    headers: {} as Record<string, string>,
    get: (name: string) => headers[name.toLowerCase()] ?? '',
    set(name: string, value: string) {
      this.headers[name] = value;
    },
    oidc: {
      route: 'token',
      params: { grant_type: 'refresh_token' },
      client: { clientId: caller.clientId, clientAuthMethod: caller.authMethod ?? 'client_secret_basic' },
      entities: {} as Record<string, { destroy(): Promise<void> }>,
    },
  };
  const engine = async () => {
    try {
      const row = await s.store.findRefreshToken(id);
      if (!row) throw new errors.InvalidGrant('refresh token not found');
      const unused = row.claimAgeMs === undefined || s.rotation.presentAsUnused(id, row.grantId, row);
      if (caller.refusedByEngine) throw new errors.InvalidGrant('client mismatch');
      if (!unused) {
        // The engine revokes the grant itself when it sees a used token.
        if (row.grantId) s.revoked.push(`engine:${row.grantId}`);
        throw new errors.InvalidGrant('refresh token already used');
      }
      await s.rotation.consume(id);
      issued += 1;
      const next = `rt-${issued}`;
      const successor = { id: next, payload: { kind: 'RefreshToken' }, expiresAt: null, grantId: row.grantId };
      // The engine stores its new refresh token: held for the rotation's completion.
      assert.ok(s.rotation.holdSuccessor(successor), 'a rotation holds its successor');
      assert.equal(s.store.hasRefreshToken(next), false, 'the successor is not written before the rotation completes');
      await hooks.beforeIssue?.();
      ctx.status = 200;
      ctx.body = { access_token: `at-${issued}`, refresh_token: next };
      ctx.oidc.entities.RefreshToken = { destroy: () => s.store.revokeGrants([]).then(() => undefined) };
    } catch (error) {
      const e = error as { statusCode?: number; error?: string };
      ctx.status = e.statusCode ?? 500;
      ctx.body = { error: e.error ?? 'server_error' };
    }
  };
  await s.rotation.middleware(ctx as unknown as Context, engine);
  return { status: ctx.status, body: ctx.body as Record<string, string>, headers: ctx.headers };
}

const ready = setup;

const web: Caller = { clientId: 'web' };

describe('refresh rotation (unit, fake store)', () => {
  test("the grant read along with the token is kept for this refresh's read of that grant only, once, and never outside a refresh", async () => {
    const s = ready();
    const row = { payload: { kind: 'Grant' }, expiresAt: null };
    // Outside a request: nothing is kept.
    s.rotation.keepGrant('g1', row);
    assert.equal(s.rotation.takeGrant('g1'), undefined);
    const ctx = { method: 'POST', oidc: { route: 'token', params: { grant_type: 'refresh_token' } }, status: 400, set() {} };
    const seen: unknown[] = [];
    await s.rotation.middleware(ctx as unknown as Context, () => {
      s.rotation.keepGrant('g1', row);
      seen.push(s.rotation.takeGrant('g2'), s.rotation.takeGrant('g1'), s.rotation.takeGrant('g1'));
      return Promise.resolve();
    });
    assert.deepEqual(seen, [undefined, row, undefined]);
    const introspection = { method: 'POST', oidc: { route: 'introspection', params: {} }, status: 200, set() {} };
    let elsewhere: unknown = 'not asked';
    await s.rotation.middleware(introspection as unknown as Context, () => {
      s.rotation.keepGrant('g1', row);
      elsewhere = s.rotation.takeGrant('g1');
      return Promise.resolve();
    });
    assert.equal(elsewhere, undefined, 'not kept outside a refresh');
  });

  test('a refresh claims the token and stores its response; the same client inside the window gets that response again', async () => {
    const s = ready();
    const first = await refresh(s, 'rt-0', web);
    const again = await refresh(s, 'rt-0', web);
    assert.equal(first.status, 200);
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, first.body);
    assert.ok(s.store.hasRefreshToken(first.body.refresh_token!), 'the completion wrote the successor');
    assert.deepEqual(s.revoked, []);
  });

  test('a stored response that cannot be opened (another master secret) is no repeat: invalid_grant and reuse, never a 500', async () => {
    const first = ready();
    assert.equal((await refresh(first, 'rt-0', web)).status, 200);
    const other = ready({ store: first.store, sealer: createSealer('another-master-secret-that-is-long-enough-012345') });
    const retry = await refresh(other, 'rt-0', web);
    assert.equal(retry.status, 400);
    assert.equal(retry.body.error, 'invalid_grant');
    assert.deepEqual(other.revoked, [other.grant]);
  });

  test('another client, or another way of authenticating, is refused and counts as reuse', async () => {
    for (const intruder of [{ clientId: 'attacker' }, { clientId: 'web', authMethod: 'none' }]) {
      const s = ready();
      await refresh(s, 'rt-0', web);
      const stolen = await refresh(s, 'rt-0', intruder);
      assert.equal(stolen.status, 400);
      assert.equal(stolen.body.error, 'invalid_grant');
      assert.equal(stolen.body.access_token, undefined);
      assert.deepEqual(s.revoked, [s.grant]);
    }
  });

  test('a refusal by the engine of a rotated token inside the window counts as reuse; a refusal of an unused one does not', async () => {
    const used = ready();
    await refresh(used, 'rt-0', web);
    assert.equal((await refresh(used, 'rt-0', { clientId: 'web', refusedByEngine: true })).status, 400);
    assert.deepEqual(used.revoked, [used.grant]);

    const fresh = ready();
    assert.equal((await refresh(fresh, 'rt-0', { clientId: 'web', refusedByEngine: true })).status, 400);
    assert.deepEqual(fresh.revoked, []);
  });

  test('the response is repeated only with a proof of the same DPoP key', async () => {
    // The thumbprint comes from the proof's header jwk; any JWS-shaped header with one works here.
    const proof = (x: string) =>
      `${Buffer.from(JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty: 'EC', crv: 'P-256', x, y: 'aq3XCsgGr5ZOYXJ5aURFXzJHfEygb1JOKmlsXJPhNzY' } })).toString('base64url')}.e30.sig`;
    const keyA = proof('Vz9X2SuYqBJ2XQn8YXPHCzqYUIlg0KsNcmvrWGlOBvA');
    const keyB = proof('Nt6JjsO0nLJsgqZeGjFo4vXmvd4UuNqGctF_2_WWbII');
    const s = ready();
    await refresh(s, 'rt-0', { clientId: 'web', dpop: keyA });
    assert.equal((await refresh(s, 'rt-0', { clientId: 'web', dpop: keyA })).status, 200);
    const other = ready();
    await refresh(other, 'rt-0', { clientId: 'web', dpop: keyA });
    assert.equal((await refresh(other, 'rt-0', { clientId: 'web', dpop: keyB })).status, 400);
    assert.deepEqual(other.revoked, [other.grant]);
    assert.equal((await refresh(other, 'rt-0', web)).status, 400, 'the family is gone, the token with it');
  });

  test('outside the window the engine sees the token as used (and revokes); nothing is repeated', async () => {
    const s = ready({ windowSeconds: 0 });
    await refresh(s, 'rt-0', web);
    const late = await refresh(s, 'rt-0', web);
    assert.equal(late.status, 400);
    assert.deepEqual(s.revoked, [`engine:${s.grant}`]);
  });

  test('concurrent refreshes of one token yield one rotation, and every one of them its response', async () => {
    const s = ready();
    const results = await Promise.all(Array.from({ length: 20 }, () => refresh(s, 'rt-0', web, { beforeIssue: () => new Promise((r) => setTimeout(r, 5)) })));
    assert.deepEqual(new Set(results.map((r) => r.status)), new Set([200]));
    assert.equal(new Set(results.map((r) => r.body.refresh_token)).size, 1);
  });

  test('the window does not run while the database is away: a retry after an outage gets the answer it lost, one without an outage is reuse', async () => {
    // An outage as long as everything since the rotation: the whole wait was spent in it.
    const withOutage = ready({ windowSeconds: 0.05, paused: (from, to) => to - from });
    const first = await refresh(withOutage, 'rt-0', web);
    await new Promise((resolve) => setTimeout(resolve, 120));
    const retry = await refresh(withOutage, 'rt-0', web);
    assert.equal(retry.status, 200);
    assert.deepEqual(retry.body, first.body);
    assert.deepEqual(withOutage.revoked, []);
    // Another client still gets nothing, outage or not.
    assert.equal((await refresh(withOutage, 'rt-0', { clientId: 'attacker' })).status, 400);

    const without = ready({ windowSeconds: 0.05, paused: () => 0 });
    assert.equal((await refresh(without, 'rt-0', web)).status, 200);
    await new Promise((resolve) => setTimeout(resolve, 120));
    assert.equal((await refresh(without, 'rt-0', web)).status, 400);
    assert.deepEqual(without.revoked, [`engine:${without.grant}`], "reuse: the grant is revoked");
  });

  test('an outage stretches the window by at most five minutes', () => {
    const state = { ctx: {} as never, arrivedAt: Date.now() };
    const sixMinutes = 6 * 60_000;
    // Claimed six minutes and five seconds ago, with the database away all along: 5 s past a
    // 10 s window once five minutes are taken off, so not within it.
    assert.equal(arrivedWithin(state, sixMinutes + 5_000, 10_000, () => sixMinutes), false);
    assert.equal(arrivedWithin(state, MAX_PAUSE_MS + 5_000, 10_000, () => sixMinutes), true);
    assert.equal(arrivedWithin(state, 15_000, 10_000, () => 0), false);
    assert.equal(arrivedWithin(state, 15_000, 0, () => 15_000), false, 'a window of 0 admits nothing');
  });

  test('a retry sent inside the window is answered from it even when it is served after the window (a queue under load)', async () => {
    const s = ready({ windowSeconds: 0.05 });
    const slow = { beforeIssue: () => new Promise<void>((resolve) => setTimeout(resolve, 150)) };
    const [first, second] = await Promise.all([refresh(s, 'rt-0', web, slow), refresh(s, 'rt-0', web, slow)]);
    assert.equal(first.status, 200);
    assert.equal(second.status, 200);
    assert.deepEqual(second.body, first.body);
    assert.deepEqual(s.revoked, []);
    // Sent after the window: reuse.
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal((await refresh(s, 'rt-0', web)).status, 400);
  });

  test('a failed rotation gives its claim back at once, and removes what it stored', async () => {
    const s = ready();
    const failed = await refresh(s, 'rt-0', web, {
      beforeIssue: () => Promise.reject(new errors.TemporarilyUnavailable('database went away')),
    });
    assert.equal(failed.status, 400);
    assert.equal(s.store.hasRefreshToken(`rt-${issued}`), false, 'the successor it stored is gone');
    const retry = await refresh(s, 'rt-0', web);
    assert.equal(retry.status, 200);
  });

  test('a claim abandoned by a dead instance is taken over after its lease, and its successor removed', async () => {
    const s = ready({ leaseMs: 100 });
    assert.equal(await s.store.claimRefreshToken('rt-0', 'dead', 100), 'claimed');
    s.store.putRefreshToken('orphan', { grantId: s.grant, rotatedFrom: 'rt-0' });
    const retry = await refresh(s, 'rt-0', web);
    assert.equal(retry.status, 200);
    assert.equal(s.store.hasRefreshToken('orphan'), false);
  });

  test('a rotation that outlived its lease and was taken over withdraws its response: 503, never two successors', async () => {
    const s = ready({ leaseMs: 50 });
    let release!: () => void;
    const slow = refresh(s, 'rt-0', web, { beforeIssue: () => new Promise<void>((resolve) => (release = resolve)) });
    await new Promise((resolve) => setTimeout(resolve, 20));
    // Another instance's retry finds the claim past its lease and takes over.
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal(await s.store.claimRefreshToken('rt-0', 'other-instance', 50), 'taken_over');
    release();
    const late = await slow;
    assert.equal(late.status, 503);
    assert.equal(late.headers['Retry-After'], '1');
  });

  test('outside a refresh (introspection) a claimed token is used', () => {
    const s = ready();
    assert.equal(s.rotation.presentAsUnused('rt-0', s.grant, { claimAgeMs: 1, rotated: true, successor: 'x' }), false);
  });
});
