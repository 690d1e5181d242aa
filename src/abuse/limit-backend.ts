import type { Redis } from 'ioredis';
import type { LRUCache } from 'lru-cache';

import { boundedCache } from './bounded-cache.ts';

// Where request budgets live. One instance: memory, bounded. Many instances: one Redis
// (redis.ts), so every instance spends from the same budget.
//
// koa-ratelimit's memory driver asserts `db instanceof Map` and then calls only
// `get`, `has` and `set` (it changes the entry it got in place). An LRUCache is not a Map,
// so BoundedMap is a Map whose storage is an LRUCache: the least recently used budgets go
// first when it is full, and each entry expires with its own window.
//
// A budget that ran out is a block until its window ends: `protect` moves it into a second
// LRU of its own, so a flood of fresh keys (each a new budget) cannot push it out and hand
// the refused key a fresh budget. The flood only displaces other ordinary budgets.

/** The fields of koa-ratelimit's memory entries that matter here. */
interface WindowEntry {
  /** End of the entry's window, epoch seconds. */
  readonly reset?: unknown;
}

function ttlOf(value: object): number {
  const reset = (value as WindowEntry).reset;
  return typeof reset === 'number' ? Math.ceil(reset * 1000 - Date.now()) : 0;
}

export class BoundedMap<V extends object = WindowEntry> extends Map<string, V> {
  readonly #entries: LRUCache<string, V>;
  readonly #blocked: LRUCache<string, V>;

  constructor(maxEntries: number, maxBlocked = maxEntries) {
    super();
    this.#entries = boundedCache<string, V>(maxEntries);
    this.#blocked = boundedCache<string, V>(maxBlocked);
  }

  override get(key: string): V | undefined {
    return this.#blocked.get(key) ?? this.#entries.get(key);
  }

  override has(key: string): boolean {
    return this.#blocked.has(key) || this.#entries.has(key);
  }

  override set(key: string, value: V): this {
    // The driver sets only a new window: whatever was blocked under this key is over.
    this.#blocked.delete(key);
    // An entry outlives its window by nothing: the driver would start a new one anyway.
    const ttl = ttlOf(value);
    this.#entries.set(key, value, ttl > 0 ? { ttl } : {});
    return this;
  }

  /** Keeps the entry under `key` apart from ordinary entries until its window ends. */
  protect(key: string): void {
    const value = this.#entries.get(key);
    const ttl = value ? ttlOf(value) : 0;
    if (!value || ttl <= 0) return;
    this.#blocked.set(key, value, { ttl });
    this.#entries.delete(key);
  }

  override delete(key: string): boolean {
    const blocked = this.#blocked.delete(key);
    const entry = this.#entries.delete(key);
    return blocked || entry;
  }

  override clear(): void {
    this.#blocked.clear();
    this.#entries.clear();
  }

  override get size(): number {
    return this.#blocked.size + this.#entries.size;
  }

  override forEach(callback: (value: V, key: string, map: Map<string, V>) => void): void {
    for (const [key, value] of this.entries()) callback(value, key, this);
  }

  override *entries(): MapIterator<[string, V]> {
    yield* this.#blocked.entries();
    yield* this.#entries.entries();
  }

  override *keys(): MapIterator<string> {
    for (const [key] of this.entries()) yield key;
  }

  override *values(): MapIterator<V> {
    for (const [, value] of this.entries()) yield value;
  }

  override [Symbol.iterator](): MapIterator<[string, V]> {
    return this.entries();
  }
}

/**
 * The storage every limiter of one app uses: its kind, and the key prefix in Redis. With
 * Redis, what request budgets do while it is away (REDIS_UNAVAILABLE): count in memory
 * (bounded as without Redis) or refuse with 503.
 */
export type LimitBackend =
  | { readonly kind: 'memory'; readonly maxKeys: number; readonly maxBlocked: number }
  | {
      readonly kind: 'redis';
      readonly client: Redis;
      readonly keyPrefix: string;
      readonly whenUnavailable: 'memory' | 'closed';
      readonly maxKeys: number;
      readonly maxBlocked: number;
    };
