
import type { KeySelection } from './throttle-releases.ts';
import { isBlock, judge, reserved, settled, failuresOf, type CounterRule, type CounterState, type Kept, type Settlement } from './throttle-rules.ts';
import { boundedCache } from './bounded-cache.ts';

// Where the credential throttle keeps its counts: memory for one instance (here), Redis for
// many (credential-throttle-redis.ts). Both reserve atomically: reading the trust flags,
// judging every count and writing them happen in one step (a synchronous section here, one
// Lua script in Redis), so concurrent attempts cannot all pass the same check.

/** When a count applies to an attempt, given what is trusted for its subject. */
export type Applies = 'always' | 'trusted-device' | 'untrusted-device' | 'untrusted';

export interface Counter {
  readonly key: string;
  readonly rule: CounterRule;
  readonly applies: Applies;
}

export interface ReserveRequest {
  readonly now: number;
  readonly trustedAddressKey: string;
  /** Absent when the attempt carries no device. */
  readonly trustedDeviceKey: string | undefined;
  /** From a trusted address, attempts in flight do not hold this one back (credential-throttle.ts). */
  readonly concurrentWhenTrusted: boolean;
  readonly counters: readonly Counter[];
}

export type CounterOutcome =
  | { readonly status: 'skipped' }
  /** `pending`: counted in flight, to be taken out when settled. */
  | { readonly status: 'reserved'; readonly pending: boolean }
  /** Allowed only if the attempts in flight succeed: ask again once they settled. */
  | { readonly status: 'busy' }
  | { readonly status: 'refused'; readonly blocked: boolean; readonly retryMs: number };

export interface ReserveResult {
  readonly trusted: { readonly address: boolean; readonly device: boolean };
  /** One per counter. Written only when every one was reserved or skipped: all or nothing. */
  readonly outcomes: readonly CounterOutcome[];
}

export interface SettleRequest {
  readonly now: number;
  readonly counters: readonly {
    readonly key: string;
    readonly rule: CounterRule;
    readonly pending: boolean;
    readonly outcome: Settlement;
    /** On success: start this ladder over (the pair, the device). */
    readonly clear: boolean;
  }[];
  /** Trust flags to set, each for `trustMs`. */
  readonly trust: readonly string[];
  readonly trustMs: number;
}

export interface ThrottleStore {
  reserve(request: ReserveRequest): Promise<ReserveResult>;
  /** Settles a reservation; answers each ladder's failures afterwards (0 for a pace). */
  settle(request: SettleRequest): Promise<number[]>;
  /**
   * Removes the counts (not the trust flags) an operator's release names; answers how many
   * went. With `once`, a release already applied to this store (by any instance sharing it,
   * within `keepMs`) removes nothing: counts built up again after it are not lifted twice.
   */
  release(selection: KeySelection, once?: { readonly key: string; readonly keepMs: number }): Promise<number>;
}

/** Whether a counter applies, given the trust flags (the Lua script has the same table). */
export function applies(when: Applies, trusted: ReserveResult['trusted']): boolean {
  switch (when) {
    case 'always':
      return true;
    case 'trusted-device':
      return trusted.device;
    case 'untrusted-device':
      return !trusted.device;
    case 'untrusted':
      return !trusted.device && !trusted.address;
  }
}

export interface MemoryThrottleStoreOptions {
  /** Ordinary counts (failures below a block, paces): the least recently used go first. */
  readonly maxKeys: number;
  /** Blocks, and apart from them trust flags: a flood of ordinary counts cannot push these out. */
  readonly maxKept: number;
}

export function createMemoryThrottleStore(options: MemoryThrottleStoreOptions): ThrottleStore {
  const counts = boundedCache<string, CounterState>(options.maxKeys);
  const blocks = boundedCache<string, CounterState>(options.maxKept);
  const trusted = boundedCache<string, true>(options.maxKept);
  const applied = boundedCache<string, true>(options.maxKept);

  const read = (key: string) => blocks.get(key) ?? counts.get(key);
  function write(key: string, rule: CounterRule, kept: Kept): void {
    if (!kept) {
      counts.delete(key);
      blocks.delete(key);
    } else if (isBlock(rule, kept.state) || blocks.has(key)) {
      blocks.set(key, kept.state, { ttl: kept.ttlMs });
      counts.delete(key);
    } else {
      counts.set(key, kept.state, { ttl: kept.ttlMs });
    }
  }

  return {
    // Synchronous from the first read to the last write: nothing can interleave.
    reserve({ now, trustedAddressKey, trustedDeviceKey, concurrentWhenTrusted, counters }) {
      const trust = { address: trusted.has(trustedAddressKey), device: trustedDeviceKey !== undefined && trusted.has(trustedDeviceKey) };
      const exempt = concurrentWhenTrusted && trust.address;
      const outcomes = counters.map((counter): CounterOutcome => {
        if (!applies(counter.applies, trust)) return { status: 'skipped' };
        const judgement = judge(counter.rule, read(counter.key), now, exempt);
        if (judgement.verdict === 'refused') return { status: 'refused', blocked: judgement.blocked, retryMs: judgement.retryMs };
        if (judgement.verdict === 'busy') return { status: 'busy' };
        return { status: 'reserved', pending: !exempt };
      });
      if (outcomes.every((outcome) => outcome.status === 'reserved' || outcome.status === 'skipped')) {
        counters.forEach((counter, index) => {
          if (outcomes[index]!.status === 'reserved' && !exempt) write(counter.key, counter.rule, reserved(counter.rule, read(counter.key), now, exempt));
        });
      }
      return Promise.resolve({ trusted: trust, outcomes });
    },
    settle({ now, counters, trust, trustMs }) {
      const after = counters.map(({ key, rule, pending, outcome, clear }) => {
        const kept = settled(rule, read(key), now, pending, outcome, clear);
        write(key, rule, kept);
        return failuresOf(rule, kept);
      });
      for (const key of trust) trusted.set(key, true, { ttl: trustMs });
      return Promise.resolve(after);
    },
    release(selection, once) {
      if (once) {
        if (applied.has(once.key)) return Promise.resolve(0);
        applied.set(once.key, true, { ttl: once.keepMs });
      }
      let removed = 0;
      for (const cache of [counts, blocks]) {
        for (const key of [...cache.keys()].filter((key) => selection.matches(key))) removed += cache.delete(key) ? 1 : 0;
      }
      return Promise.resolve(removed);
    },
  };
}
