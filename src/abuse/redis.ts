import { Redis } from 'ioredis';

import type { Logger } from '../observability/index.ts';

// The Redis connection shared limits live in (REDIS_URL), opened by server.ts (openLimitRedis).

/**
 * A Redis connection for shared limits. Commands fail fast while Redis is away (no
 * offline queue, one retry, short timeouts), so limiters can fail open instead of making
 * every request wait; the client keeps reconnecting in the background.
 */
export function createLimitRedis(url: string, logger: Logger): Redis {
  const client = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    commandTimeout: 500,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
  let lastReport = 0;
  client.on('error', (error: Error) => {
    // At most one line every 10 s while Redis is down.
    if (Date.now() - lastReport < 10_000) return;
    lastReport = Date.now();
    logger.error({ err: error }, 'redis for rate limits is unavailable: limits fail open until it is back');
  });
  return client;
}

/** Connects (start-up only): a REDIS_URL that does not answer stops the start with its reason. */
export async function connectLimitRedis(client: Redis): Promise<void> {
  await client.connect();
  await client.ping();
}
