import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { AuditEvent } from '../../src/audit/index.ts';
import { createGrantService } from '../../src/oidc/index.ts';
import type { TokenStore } from '../../src/oidc/token-store.ts';

// Ending one browser session revokes the grants made in it, and only the person's own:
// whatever the session's stored payload names, another account's grant is never touched.

function storeWith(payload: unknown, ownGrants: string[]) {
  const revoked: string[][] = [];
  const store = {
    endSession: (accountId: string, uid: string, grantsIn: (payload: unknown) => readonly string[]) => {
      if (accountId !== 'acc-1' || uid !== 'uid-1') return Promise.resolve(undefined);
      // The store revokes, with the session's end, the named grants that are the account's.
      const ids = grantsIn(payload).filter((id) => ownGrants.includes(id));
      if (ids.length > 0) revoked.push([...ids]);
      return Promise.resolve({ payload, grants: ids.length, tokens: 2 * ids.length });
    },
  } as unknown as TokenStore;
  return { store, revoked };
}

test("ending a session revokes the grants made in it that are the person's, never another's", async () => {
  const { store, revoked } = storeWith(
    { loginTs: 1_700_000_000, amr: ['pwd'], authorizations: { app: { grantId: 'g-own' }, other: { grantId: 'g-someone-else' }, bare: {}, odd: null } },
    ['g-own', 'g-older'],
  );
  const events: AuditEvent[] = [];
  const grants = createGrantService(store, { record: (event) => events.push(event) });

  const result = await grants.endSession('acc-1', 'uid-1', { actor: 'client:automation' });
  assert.deepEqual(result, { ended: true, grants: 1, tokens: 2 });
  assert.deepEqual(revoked, [['g-own']]);
  assert.equal(events.length, 1);
  assert.deepEqual(events[0], {
    type: 'session.ended',
    accountId: 'acc-1',
    data: { session: 'uid-1', clients: ['app', 'other', 'bare', 'odd'], grants: 1, tokens: 2 },
    actor: 'client:automation',
  });
});

test('a session that is not there (ended, or another person’s) ends nothing and records nothing', async () => {
  const { store, revoked } = storeWith({}, ['g-own']);
  const events: AuditEvent[] = [];
  const grants = createGrantService(store, { record: (event) => events.push(event) });
  assert.deepEqual(await grants.endSession('acc-2', 'uid-1'), { ended: false, grants: 0, tokens: 0 });
  assert.deepEqual(revoked, []);
  assert.deepEqual(events, []);
});

test('a session with no grant in it ends without a revocation', async () => {
  const { store, revoked } = storeWith({ authorizations: {} }, ['g-own']);
  const grants = createGrantService(store);
  assert.deepEqual(await grants.endSession('acc-1', 'uid-1'), { ended: true, grants: 0, tokens: 0 });
  assert.deepEqual(revoked, []);
});
