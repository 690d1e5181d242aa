import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';

// Where request budgets live. One instance: memory, bounded. Many instances: one Redis
// (redis.ts), so every instance spends from the same budget.
//
// koa-ratelimit's memory driver asserts `db instanceof Map` and then calls only
// `get`, `has` and `set` (it changes the entry it got in place). An LRUCache is not a Map,
// so BoundedMap is a Map whose storage is an LRUCache: the least recently used budgets go
// first when it is full, and each entry expires with its own window.

/** The fields of koa-ratelimit's memory entries that matter here. */
interface WindowEntry {
  /** End of the entry's window, epoch seconds. */
  readonly reset?: unknown;
}

export class BoundedMap<V extends object = WindowEntry> extends Map<string, V> {
  readonly #entries: LRUCache<string, V>;

  constructor(maxEntries: number) {
    super();
    this.#entries = new LRUCache<string, V>({ max: maxEntries });
  }

  override get(key: string): V | undefined {
    return this.#entries.get(key);
  }

  override has(key: string): boolean {
    return this.#entries.has(key);
  }

  override set(key: string, value: V): this {
    // An entry outlives its window by nothing: the driver would start a new one anyway.
    const reset = (value as WindowEntry).reset;
    const ttl = typeof reset === 'number' ? Math.ceil(reset * 1000 - Date.now()) : 0;
    this.#entries.set(key, value, ttl > 0 ? { ttl } : {});
    return this;
  }

  override delete(key: string): boolean {
    return this.#entries.delete(key);
  }

  override clear(): void {
    this.#entries.clear();
  }

  override get size(): number {
    return this.#entries.size;
  }

  override forEach(callback: (value: V, key: string, map: Map<string, V>) => void): void {
    for (const [key, value] of this.#entries.entries()) callback(value, key, this);
  }

  override *entries(): MapIterator<[string, V]> {
    yield* this.#entries.entries();
  }

  override *keys(): MapIterator<string> {
    yield* this.#entries.keys();
  }

  override *values(): MapIterator<V> {
    yield* this.#entries.values();
  }

  override [Symbol.iterator](): MapIterator<[string, V]> {
    return this.entries();
  }
}

/** The storage every limiter of one app uses: its kind, and the key prefix in Redis. */
export type LimitBackend =
  | { readonly kind: 'memory'; readonly maxKeys: number }
  | { readonly kind: 'redis'; readonly client: Redis; readonly keyPrefix: string };
