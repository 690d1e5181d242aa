import type { ThrottleStore } from './credential-throttle-store.ts';

// The credential throttle over Redis, never silently off: while Redis is away (not
// connected, or a command fails or times out) every reservation and settlement goes to
// this instance's memory store instead, which throttles by the same rules (the contract
// suite holds both stores to the same answers), so a burst of guesses during an outage is
// held exactly as one instance without Redis would hold it. When Redis is back, new
// attempts count there again; what memory counted meanwhile stays in memory until it
// expires (an attempt reserved on one side and settled on the other is counted where it
// settles: a failure is never lost, a pending mark at worst waits out its lease).

export function withMemoryFallback(options: {
  primary: ThrottleStore;
  memory: ThrottleStore;
  /** Whether the primary is connected now: when it is not, memory is used at once, with no wait. */
  available: () => boolean;
  /** A primary command failed (it is retried in memory). */
  onFallback?: (error: unknown) => void;
}): ThrottleStore {
  const { primary, memory } = options;
  async function either<T>(work: (store: ThrottleStore) => Promise<T>): Promise<T> {
    if (!options.available()) return work(memory);
    try {
      return await work(primary);
    } catch (error) {
      options.onFallback?.(error);
      return work(memory);
    }
  }
  return {
    reserve: (request) => either((store) => store.reserve(request)),
    settle: (request) => either((store) => store.settle(request)),
    // An operator's release lifts the counts wherever they are: memory always, Redis when it answers.
    async release(selection, once) {
      const inMemory = await memory.release(selection, once);
      if (!options.available()) return inMemory;
      try {
        return inMemory + (await primary.release(selection, once));
      } catch (error) {
        options.onFallback?.(error);
        return inMemory;
      }
    },
  };
}
