import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';

import type { ThrottleRecord, ThrottleStore } from './credential-throttle.ts';

// The two homes of the failed-authentication counts, behind one interface: memory for one
// instance (bounded: least recently used records go first when it is full; every record
// expires on its own), Redis for several instances (one round trip per operation).

export function createMemoryThrottleStore(options: { maxKeys: number }): ThrottleStore {
  const records = new LRUCache<string, ThrottleRecord | true>({ max: options.maxKeys });
  return {
    read(recordKeys, flagKeys) {
      return Promise.resolve({
        records: recordKeys.map((key) => {
          const value = records.get(key);
          return value === true ? undefined : value;
        }),
        flags: flagKeys.map((key) => records.get(key) === true),
      });
    },
    add(recordKeys, now, ttlMs) {
      return Promise.resolve(
        recordKeys.map((key) => {
          const previous = records.get(key);
          const next = { failures: (previous === true || !previous ? 0 : previous.failures) + 1, last: now };
          records.set(key, next, { ttl: ttlMs });
          return next;
        }),
      );
    },
    remove(keys) {
      for (const key of keys) records.delete(key);
      return Promise.resolve();
    },
    setFlag(key, ttlMs) {
      records.set(key, true, { ttl: ttlMs });
      return Promise.resolve();
    },
  };
}

/** Records are hashes {f: failures, l: last}; flags are plain keys; everything expires. */
export function createRedisThrottleStore(options: { client: Redis; keyPrefix: string }): ThrottleStore {
  const { client } = options;
  const prefix = `${options.keyPrefix}th:`;

  async function run(batch: { exec(): Promise<[Error | null, unknown][] | null> }): Promise<unknown[]> {
    const results = (await batch.exec()) ?? [];
    for (const [error] of results) if (error) throw error;
    return results.map(([, value]) => value);
  }

  return {
    async read(recordKeys, flagKeys) {
      const batch = client.pipeline();
      for (const key of recordKeys) batch.hmget(prefix + key, 'f', 'l');
      for (const key of flagKeys) batch.exists(prefix + key);
      const values = await run(batch);
      return {
        records: values.slice(0, recordKeys.length).map((value) => {
          const [failures, last] = value as [string | null, string | null];
          return failures === null || last === null ? undefined : { failures: Number(failures), last: Number(last) };
        }),
        flags: values.slice(recordKeys.length).map((value) => value === 1),
      };
    },
    async add(recordKeys, now, ttlMs) {
      // One transaction: the counts of one attempt move together.
      const batch = client.multi();
      for (const key of recordKeys) {
        batch.hincrby(prefix + key, 'f', 1);
        batch.hset(prefix + key, 'l', now);
        batch.pexpire(prefix + key, ttlMs);
      }
      const values = await run(batch);
      return recordKeys.map((_, index) => ({ failures: Number(values[index * 3]), last: now }));
    },
    async remove(keys) {
      if (keys.length > 0) await client.del(...keys.map((key) => prefix + key));
    },
    async setFlag(key, ttlMs) {
      await client.set(prefix + key, '1', 'PX', ttlMs);
    },
  };
}
