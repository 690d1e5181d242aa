import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { createCredentialThrottle, type AuthAttempt } from '../../src/abuse/credential-throttle.ts';
import { createMemoryThrottleStore, type ThrottleStore } from '../../src/abuse/credential-throttle-store.ts';
import { withMemoryFallback } from '../../src/abuse/fallback-throttle-store.ts';
import type { AuthThrottleConfig } from '../../src/config/index.ts';
import { describeThrottleStoreContract } from '../contracts/throttle-store.ts';

// The credential throttle over a shared store that goes away (Redis): it never fails open.
// Whether the store is known to be away (not connected) or fails a command, the throttle
// counts in memory by the same rules, and goes back to the shared store when it answers.

const POLICY: AuthThrottleConfig = {
  freeFailures: 3,
  blockAfter: 10,
  ipFreeFailures: 20,
  ipBlockAfter: 100,
  subjectFreeFailures: 20,
  subjectInterval: 60,
  maxDelay: 60,
  window: 900,
};
const memoryStore = () => createMemoryThrottleStore({ maxKeys: 1000, maxKept: 1000 });
const ann: AuthAttempt = { subject: 'ann@example.com', ip: '198.51.100.1', device: undefined };

/** A shared store that fails every command while `down`, counting what reached it. */
function flakyStore(inner: ThrottleStore) {
  const state = { down: false, calls: 0 };
  const guard = <T>(work: () => Promise<T>) => {
    state.calls++;
    return state.down ? Promise.reject(new Error('Connection is closed.')) : work();
  };
  const store: ThrottleStore = {
    reserve: (request) => guard(() => inner.reserve(request)),
    settle: (request) => guard(() => inner.settle(request)),
    release: (selection, once) => guard(() => inner.release(selection, once)),
  };
  return { store, state };
}

/** Wrong passwords one after the other at a fixed clock: how many were let through to the check. */
async function checkedOf(store: ThrottleStore, attempts: number): Promise<number> {
  let storeErrors = 0;
  const throttle = createCredentialThrottle({ policy: POLICY, store, namespace: 'login', now: () => 1_000_000, onStoreError: () => storeErrors++ });
  let checked = 0;
  for (let i = 0; i < attempts; i++) {
    const verdict = await throttle.reserve(ann);
    if (!verdict.allowed) continue;
    checked++;
    await verdict.reservation.failed();
  }
  assert.equal(storeErrors, 0, 'the throttle never saw a store failure (it would fail open)');
  return checked;
}

describe('the credential throttle while its shared store is away', () => {
  test('a store failing every command: the throttle holds exactly as memory alone', async () => {
    const { store: shared, state } = flakyStore(memoryStore());
    state.down = true;
    const checked = await checkedOf(withMemoryFallback({ primary: shared, memory: memoryStore(), available: () => true }), 20);
    assert.equal(checked, await checkedOf(memoryStore(), 20));
    assert.equal(checked, POLICY.freeFailures, 'the free checks, then waits');
  });

  test('a store known to be disconnected is not even asked', async () => {
    const { store: shared, state } = flakyStore(memoryStore());
    const checked = await checkedOf(withMemoryFallback({ primary: shared, memory: memoryStore(), available: () => false }), 20);
    assert.equal(checked, POLICY.freeFailures);
    assert.equal(state.calls, 0);
  });

  test('when the store answers again, counts go there again', async () => {
    const shared = memoryStore();
    const flaky = flakyStore(shared);
    let connected = false;
    const store = withMemoryFallback({ primary: flaky.store, memory: memoryStore(), available: () => connected });
    await checkedOf(store, 5);
    connected = true;
    const before = flaky.state.calls;
    await checkedOf(store, 2);
    assert.ok(flaky.state.calls > before, 'the shared store is used again');
    // What the shared store counted from now on is what another instance sees there.
    assert.equal(await checkedOf(shared, 5), POLICY.freeFailures - 2);
  });

  // Answers like any store while the shared one is up, and while it is down.
  let n = 0;
  describeThrottleStoreContract(() => withMemoryFallback({ primary: memoryStore(), memory: memoryStore(), available: () => true }), () => `up${n++}`);
  describeThrottleStoreContract(() => withMemoryFallback({ primary: flakyStore(memoryStore()).store, memory: memoryStore(), available: () => false }), () => `down${n++}`);
});
