import assert from 'node:assert/strict';
import { test } from 'node:test';

import { boundedCache } from '../../src/abuse/bounded-cache.ts';

// The abuse limits' memory is bounded by entries, as lru-cache's `max` bounds it, without
// allocating every entry's slot up front.

test('holds at most maxEntries, evicting the least recently used first', () => {
  const cache = boundedCache<string, number>(3);
  for (const key of ['a', 'b', 'c']) cache.set(key, 1);
  cache.get('a'); // a is now the most recently used
  cache.set('d', 1);
  assert.equal(cache.size, 3);
  assert.deepEqual([...cache.keys()].sort(), ['a', 'c', 'd']);
  for (let i = 0; i < 10_000; i++) cache.set(`k${i}`, i);
  assert.equal(cache.size, 3);
  assert.deepEqual([...cache.keys()].sort(), ['k9997', 'k9998', 'k9999']);
});

test('a large bound costs nothing until it is filled', () => {
  const before = process.memoryUsage().arrayBuffers;
  const caches = Array.from({ length: 20 }, () => boundedCache<string, number>(1_000_000));
  // With `max`, each would hold about 12 MB of typed arrays from the start.
  assert.ok(process.memoryUsage().arrayBuffers - before < 1_000_000, 'no index allocated up front');
  caches[0]!.set('a', 1);
  assert.equal(caches[0]!.get('a'), 1);
});

test('entries expire by the ttl given, per cache or per entry', async () => {
  const cache = boundedCache<string, true>(10, { ttl: 20 });
  cache.set('a', true);
  cache.set('b', true, { ttl: 1_000 });
  await new Promise((resolve) => setTimeout(resolve, 40));
  assert.equal(cache.get('a'), undefined);
  assert.equal(cache.get('b'), true);
});
