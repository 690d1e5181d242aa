import { randomBytes } from 'node:crypto';
import { after, describe } from 'node:test';

import { Redis } from 'ioredis';

import { createRedisThrottleStore } from '../../src/abuse/credential-throttle-redis.ts';
import { describeThrottleStoreContract } from '../contracts/throttle-store.ts';

// The Redis throttle store keeps the same contract as the memory one (its rules run as Lua
// scripts). Its own key prefix per run, deleted afterwards.

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `portcullis-test-${randomBytes(6).toString('hex')}:`;
const client = new Redis(REDIS_URL);

after(async () => {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 1000);
    if (keys.length > 0) await client.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  await client.quit();
});

describe('the Redis throttle store', () => {
  let n = 0;
  describeThrottleStoreContract(() => createRedisThrottleStore({ client, keyPrefix: PREFIX }), () => `k${n++}`);
});
