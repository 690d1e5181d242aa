// The contract every credential-throttle store keeps (memory: *.unit.test.ts, Redis: *.redis.test.ts):
// the same atomic reservations, the same rules, the same settlements and trust flags.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { Counter, ThrottleStore } from '../../src/abuse/credential-throttle-store.ts';
import type { LadderRule, PaceRule, Settlement } from '../../src/abuse/throttle-rules.ts';
import { releasedKeys } from '../../src/abuse/throttle-releases.ts';

const LADDER: LadderRule = { kind: 'ladder', free: 2, blockAfter: 4, maxDelayMs: 60_000, windowMs: 900_000 };
const PACE: PaceRule = { kind: 'pace', intervalMs: 60_000, burst: 3 };
const T0 = 1_700_000_000_000;

export function describeThrottleStoreContract(make: () => ThrottleStore, unique: () => string): void {
  const counters = (id: string): Counter[] => [
    { key: `${id}:pair`, rule: LADDER, applies: 'untrusted-device' },
    { key: `${id}:pace`, rule: PACE, applies: 'untrusted' },
    { key: `${id}:device`, rule: LADDER, applies: 'trusted-device' },
  ];
  const request = (id: string, now: number, options: { device?: boolean; only?: number; concurrent?: boolean } = {}) => ({
    now,
    trustedAddressKey: `${id}:t`,
    trustedDeviceKey: options.device ? `${id}:d` : undefined,
    concurrentWhenTrusted: options.concurrent ?? false,
    counters: options.only === undefined ? counters(id) : [counters(id)[options.only]!],
  });

  /** Reserves one counter and, when reserved, settles it at once; the reservation's outcome. */
  async function attempt(store: ThrottleStore, id: string, only: number, now: number, outcome: Settlement = 'failed') {
    const result = await store.reserve(request(id, now, { only }));
    const first = result.outcomes[0]!;
    if (first.status === 'reserved') {
      const counter = counters(id)[only]!;
      await store.settle({ now, counters: [{ key: counter.key, rule: counter.rule, pending: first.pending, outcome, clear: outcome === 'succeeded' }], trust: [], trustMs: 1 });
    }
    return first;
  }

  test('a ladder lets the free failures through, then asks for a wait, and blocks at its threshold', async () => {
    const store = make();
    const id = unique();
    const fail = (now: number) => attempt(store, id, 0, now);
    assert.deepEqual([await fail(T0), await fail(T0)], [{ status: 'reserved', pending: true }, { status: 'reserved', pending: true }]);
    assert.deepEqual(await fail(T0 + 500), { status: 'refused', blocked: false, retryMs: 500 }, 'refused: not counted');
    assert.equal((await fail(T0 + 1000)).status, 'reserved');
    assert.equal((await fail(T0 + 3000)).status, 'reserved');
    assert.deepEqual(await fail(T0 + 5000), { status: 'refused', blocked: true, retryMs: 898_000 });
    assert.equal((await fail(T0 + 903_000)).status, 'reserved', 'forgotten a window after the last failure');
  });

  test("an operator's release removes exactly the counts it names: an account's on every address, or an address's for every account", async () => {
    const store = make();
    const ns = `r${unique()}`;
    const [ann, bob] = ['A'.repeat(22), 'B'.repeat(22)];
    const ladder = (key: string): Counter => ({ key, rule: LADDER, applies: 'always' });
    const block = async (key: string) => {
      for (let n = 0; n < 4; n++) {
        const reserved = await store.reserve({ now: T0 + n * 60_000, trustedAddressKey: `${ns}:t`, trustedDeviceKey: undefined, concurrentWhenTrusted: false, counters: [ladder(key)] });
        assert.equal(reserved.outcomes[0]!.status, 'reserved');
        await store.settle({ now: T0 + n * 60_000, counters: [{ key, rule: LADDER, pending: true, outcome: 'failed', clear: false }], trust: [], trustMs: 1 });
      }
    };
    const blocked = async (key: string) => {
      const result = await store.reserve({ now: T0 + 300_000, trustedAddressKey: `${ns}:t`, trustedDeviceKey: undefined, concurrentWhenTrusted: false, counters: [ladder(key)] });
      const outcome = result.outcomes[0]!;
      if (outcome.status === 'reserved') await store.settle({ now: T0 + 300_000, counters: [{ key, rule: LADDER, pending: true, outcome: 'released', clear: false }], trust: [], trustMs: 1 });
      return outcome.status === 'refused' && outcome.blocked;
    };
    const keys = {
      annHere: `${ns}:p:${ann}:192.0.2.1`,
      annThere: `${ns}:p:${ann}:2001:db8:1:2::/64`,
      bobHere: `${ns}:p:${bob}:192.0.2.1`,
      bobElsewhere: `${ns}:p:${bob}:192.0.2.10`,
      here: `${ns}:i:192.0.2.1`,
      elsewhere: `${ns}:i:192.0.2.10`,
    };
    for (const key of Object.values(keys)) await block(key);
    for (const key of Object.values(keys)) assert.ok(await blocked(key), key);

    assert.equal(await store.release(releasedKeys(ns, { subjectHash: ann })), 2);
    assert.deepEqual(
      await Promise.all(Object.values(keys).map(blocked)),
      [false, false, true, true, true, true],
      "Ann's blocks are gone on every address; Bob's and the addresses' stay",
    );
    assert.equal(await store.release(releasedKeys(ns, { address: '192.0.2.1' })), 2);
    assert.deepEqual(await Promise.all([keys.bobHere, keys.bobElsewhere, keys.here, keys.elsewhere].map(blocked)), [false, true, false, true]);

    // A release is applied once per store: blocks built up again after it are not lifted
    // by a second instance (or a restart) applying the same release.
    const once = { key: `${ns}:rel:1`, keepMs: 60_000 };
    assert.equal(await store.release(releasedKeys(ns, { address: '192.0.2.10' }), once), 2);
    await block(keys.bobElsewhere);
    assert.equal(await store.release(releasedKeys(ns, { address: '192.0.2.10' }), once), 0);
    assert.ok(await blocked(keys.bobElsewhere), 'the block built after the release stands');
  });

  test('settling answers the failures after it; a success clears the ladder', async () => {
    const store = make();
    const id = unique();
    const [pair] = counters(id);
    const settle = async (now: number, outcome: Settlement) => {
      const reserved = (await store.reserve(request(id, now, { only: 0 }))).outcomes[0]!;
      assert.equal(reserved.status, 'reserved');
      return store.settle({ now, counters: [{ key: pair!.key, rule: LADDER, pending: true, outcome, clear: true }], trust: [], trustMs: 1 });
    };
    assert.deepEqual(await settle(T0, 'failed'), [1]);
    assert.deepEqual(await settle(T0, 'released'), [1], 'an unchecked attempt changes nothing');
    assert.deepEqual(await settle(T0, 'failed'), [2]);
    assert.deepEqual(await settle(T0 + 1000, 'succeeded'), [0]);
    assert.deepEqual(await settle(T0 + 1000, 'failed'), [1]);
  });

  test('attempts in flight hold back only those that would be refused if they all failed', async () => {
    const store = make();
    const id = unique();
    const results = await Promise.all(Array.from({ length: 40 }, () => store.reserve(request(id, T0, { only: 0 }))));
    const statuses = results.map((result) => result.outcomes[0]!.status);
    assert.equal(statuses.filter((status) => status === 'reserved').length, 2, 'the free failures');
    assert.equal(statuses.filter((status) => status === 'busy').length, 38);
    // Both succeed: the next ones may go.
    const [pair] = counters(id);
    for (let i = 0; i < 2; i++) await store.settle({ now: T0, counters: [{ key: pair!.key, rule: LADDER, pending: true, outcome: 'succeeded', clear: true }], trust: [], trustMs: 1 });
    assert.equal((await store.reserve(request(id, T0, { only: 0 }))).outcomes[0]!.status, 'reserved');
  });

  test('a refused or held reservation writes nothing: all counters or none', async () => {
    const store = make();
    const id = unique();
    for (let i = 0; i < 3; i++) await attempt(store, id, 1, T0 + i * 2000);
    // The pace is out; the ladder would allow, but must not count this attempt in flight.
    const refused = await store.reserve(request(id, T0 + 6000));
    assert.equal(refused.outcomes[1]!.status, 'refused');
    assert.equal(refused.outcomes[0]!.status, 'reserved');
    for (let i = 0; i < 2; i++) assert.equal((await store.reserve(request(id, T0 + 6000, { only: 0 }))).outcomes[0]!.status, 'reserved');
  });

  test('a pace allows its burst of failures, then one per interval on a fixed schedule', async () => {
    const store = make();
    const id = unique();
    const fail = (now: number) => attempt(store, id, 1, now);
    for (let i = 0; i < 3; i++) assert.equal((await fail(T0)).status, 'reserved');
    assert.deepEqual(await fail(T0 + 10_000), { status: 'refused', blocked: false, retryMs: 50_000 });
    assert.equal((await fail(T0 + 60_000)).status, 'reserved', 'the slot opens one interval after the burst began');
    assert.deepEqual(await fail(T0 + 61_000), { status: 'refused', blocked: false, retryMs: 59_000 });
    // A late taker does not move the schedule: the next slot is still at T0 + 120 s.
    assert.deepEqual(await fail(T0 + 119_000), { status: 'refused', blocked: false, retryMs: 1_000 });
    assert.equal((await attempt(store, id, 1, T0 + 120_000, 'succeeded')).status, 'reserved');
    assert.equal((await fail(T0 + 120_000)).status, 'reserved', 'a success gave its slot back');
  });

  test('a trusted address skips the pace; a trusted device skips both and has its own ladder', async () => {
    const store = make();
    const id = unique();
    await store.settle({ now: T0, counters: [], trust: [`${id}:t`, `${id}:d`], trustMs: 3_600_000 });
    const byAddress = await store.reserve(request(id, T0));
    assert.deepEqual(byAddress.trusted, { address: true, device: false });
    assert.deepEqual(byAddress.outcomes.map((outcome) => outcome.status), ['reserved', 'skipped', 'skipped']);
    const byDevice = await store.reserve(request(id, T0, { device: true }));
    assert.deepEqual(byDevice.trusted, { address: true, device: true });
    assert.deepEqual(byDevice.outcomes.map((outcome) => outcome.status), ['skipped', 'skipped', 'reserved']);
  });

  test('from a trusted address with concurrentWhenTrusted, attempts in flight hold nothing back, and failures still count', async () => {
    const store = make();
    const id = unique();
    await store.settle({ now: T0, counters: [], trust: [`${id}:t`], trustMs: 3_600_000 });
    const results = await Promise.all(Array.from({ length: 20 }, () => store.reserve(request(id, T0, { only: 0, concurrent: true }))));
    assert.deepEqual(new Set(results.map((result) => JSON.stringify(result.outcomes[0]))), new Set([JSON.stringify({ status: 'reserved', pending: false })]));
    const [pair] = counters(id);
    for (let i = 0; i < 2; i++) await store.settle({ now: T0, counters: [{ key: pair!.key, rule: LADDER, pending: false, outcome: 'failed', clear: false }], trust: [], trustMs: 1 });
    assert.equal((await store.reserve(request(id, T0 + 500, { only: 0, concurrent: true }))).outcomes[0]!.status, 'refused');
  });
}
