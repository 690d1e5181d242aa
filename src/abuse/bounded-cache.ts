import { LRUCache } from 'lru-cache';

type Options<K extends NonNullable<unknown>, V extends NonNullable<unknown>> = Omit<LRUCache.Options<K, V, unknown>, 'max' | 'maxSize' | 'sizeCalculation'>;

/**
 * An LRU cache of at most `maxEntries` entries that allocates as it fills.
 *
 * Given `max`, lru-cache allocates its index for every entry up front (about 28 bytes an
 * entry, 44 with expiry: 2.8-4.4 MB at the default 100,000), and the abuse limits keep more
 * than a dozen such caches, most of which never hold more than a few hundred keys: about
 * 40 MB of an idle server's memory. Bounded by size instead, one unit an entry, it starts
 * empty and grows, and evicts the least recently used exactly as `max` would.
 */
export function boundedCache<K extends NonNullable<unknown>, V extends NonNullable<unknown>>(maxEntries: number, options: Options<K, V> = {}): LRUCache<K, V> {
  return new LRUCache<K, V>({ ...options, maxSize: maxEntries, sizeCalculation: () => 1 });
}
