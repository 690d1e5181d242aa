import assert from 'node:assert/strict';
import { test } from 'node:test';

import { createSealer } from '../../src/crypto/index.ts';
import type { KeyStore } from '../../src/oidc/key-store.ts';
import { loadKeys } from '../../src/oidc/signing-keys.ts';
import { createKeyWatcher } from '../../src/oidc/watch-keys.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMemoryKeyStore } from '../fakes/memory-key-store.ts';

// An instance that cannot read its keys must not look ready: it would go on publishing and
// signing with keys the other instances may have withdrawn (src/oidc/watch-keys.ts). And a
// swap of the engine that failed is tried again, not forgotten.

const sealer = createSealer('unit-test-master-secret-long-enough-0123456789');
const policy = { lifetimeSeconds: () => 600, marginSeconds: 60, announceSeconds: 120 };
const logger = createLogger({ level: 'silent' });

/** A store whose reads fail while `broken` is set. */
function breakable(store: KeyStore) {
  const state = { broken: false };
  const failing = <T>(read: () => Promise<T>) => (state.broken ? Promise.reject(new Error('connection refused')) : read());
  const wrapped: KeyStore = { ...store, signingKeys: () => failing(() => store.signingKeys()), cookieKeys: () => failing(() => store.cookieKeys()) };
  return { store: wrapped, state };
}

function feed() {
  const listeners: (() => void)[] = [];
  return { onChange: (listener: () => void) => void listeners.push(listener), notify: () => listeners.forEach((listener) => listener()) };
}

test('in step after reads succeed; out of step once a change the feed announced cannot be read for a few seconds', async (t) => {
  t.mock.timers.enable({ apis: ['Date', 'setTimeout', 'setInterval'] });
  const memory = createMemoryKeyStore();
  const initial = await loadKeys(memory, sealer, policy);
  const { store, state } = breakable(memory);
  const changes = feed();
  const watcher = createKeyWatcher({ store, sealer, policy: () => Promise.resolve(policy), initial, onChange: () => {}, feed: changes, refreshMs: 60_000, staleAfterMs: 600_000, logger });
  assert.equal(watcher.inStep(), true);
  state.broken = true;
  changes.notify();
  await watcher.refresh();
  t.mock.timers.tick(1_000);
  assert.equal(watcher.inStep(), true, 'a moment to read it');
  t.mock.timers.tick(5_000);
  assert.equal(watcher.inStep(), false, 'a change it could not read');
  state.broken = false;
  await watcher.refresh();
  assert.equal(watcher.inStep(), true, 'in step again once read');
  await watcher.stop();
});

test('out of step after staleAfterMs without a successful read, even with no change announced', async (t) => {
  t.mock.timers.enable({ apis: ['Date'] });
  const memory = createMemoryKeyStore();
  const initial = await loadKeys(memory, sealer, policy);
  const { store, state } = breakable(memory);
  const watcher = createKeyWatcher({ store, sealer, policy: () => Promise.resolve(policy), initial, onChange: () => {}, refreshMs: 60_000, staleAfterMs: 600_000, logger });
  state.broken = true;
  t.mock.timers.tick(599_000);
  await watcher.refresh();
  assert.equal(watcher.inStep(), true);
  t.mock.timers.tick(2_000);
  assert.equal(watcher.inStep(), false);
  await watcher.stop();
});

test('a swap that failed is tried again at the next round', async () => {
  const memory = createMemoryKeyStore();
  const initial = await loadKeys(memory, sealer, policy);
  let attempts = 0;
  const seen: string[] = [];
  // The watcher holds an older set than the database's: each round finds a change.
  const stale = { ...initial, fingerprint: 'an older set' };
  const watcher = createKeyWatcher({
    store: memory,
    sealer,
    policy: () => Promise.resolve(policy),
    initial: stale,
    onChange: (material) => {
      attempts += 1;
      if (attempts === 1) throw new Error('the engine could not be built');
      seen.push(material.fingerprint);
    },
    refreshMs: 60_000,
    staleAfterMs: 600_000,
    logger,
  });
  await watcher.refresh();
  await watcher.refresh();
  assert.equal(attempts, 2, 'the second round tried the swap again');
  assert.deepEqual(seen, [initial.fingerprint]);
  await watcher.stop();
});

test('after a failed round the next comes a second later, not a refresh interval later: ready again soon after an outage', async (t) => {
  t.mock.timers.enable({ apis: ['Date', 'setTimeout', 'setInterval'] });
  const memory = createMemoryKeyStore();
  const initial = await loadKeys(memory, sealer, policy);
  const { store, state } = breakable(memory);
  const changes = feed();
  let reads = 0;
  const counting: KeyStore = { ...store, signingKeys: () => (reads++, store.signingKeys()) };
  const watcher = createKeyWatcher({ store: counting, sealer, policy: () => Promise.resolve(policy), initial, onChange: () => {}, feed: changes, refreshMs: 60_000, staleAfterMs: 600_000, logger });
  watcher.start();
  state.broken = true;
  // The feed loses its connection in the outage, and says so.
  changes.notify();
  await watcher.refresh();
  t.mock.timers.tick(6_000);
  assert.equal(watcher.inStep(), false, 'out of step during the outage');
  state.broken = false;
  const before = reads;
  t.mock.timers.tick(1_000);
  for (let i = 0; i < 20 && !watcher.inStep(); i++) await new Promise((resolve) => setImmediate(resolve));
  assert.ok(reads > before, 'a round ran within a second');
  assert.equal(watcher.inStep(), true, 'in step again within a second of the database coming back');
  await watcher.stop();
});
