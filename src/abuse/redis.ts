import { Redis } from 'ioredis';

import type { Logger } from '../observability/index.ts';

// The Redis connection shared limits live in (REDIS_URL), opened by server.ts (openLimitRedis).
//
// Redis being away never stops a start and never stalls a request: commands fail at once
// while the connection is not ready (no offline queue) and within `commandTimeout` when
// Redis hangs; the client reconnects in the background by itself. Meanwhile the credential
// throttles count in this instance's memory (fallback-throttle-store.ts) and the request
// budgets do too, or refuse with 503, as REDIS_UNAVAILABLE says (tier.ts). One line when
// Redis goes away, one when it is back.

/** Whether limits may use Redis now: connected and past its ready check. */
export function redisReady(client: Redis): boolean {
  return client.status === 'ready';
}

export function createLimitRedis(url: string, logger: Logger, options: { whenUnavailable?: 'memory' | 'closed' } = {}): Redis {
  const client = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    commandTimeout: 500,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
  const budgets = options.whenUnavailable === 'closed' ? 'request budgets refuse with 503' : 'request budgets count in memory';
  // Unknown until the first connection settles; then one line per change.
  let up: boolean | undefined;
  let downSince = 0;
  const wentDown = (reason: string) => {
    if (up === false) return;
    up = false;
    downSince = Date.now();
    logger.warn({ reason }, `redis for limits is unavailable: login and secret throttles count in this instance's memory, ${budgets}, until it is back`);
  };
  client.on('ready', () => {
    if (up === false) logger.info({ downMs: Date.now() - downSince }, 'redis for limits is reachable again: limits are shared again');
    up = true;
  });
  client.on('error', (error: Error) => wentDown(error.message));
  client.on('close', () => wentDown('connection closed'));
  return client;
}

/**
 * Starts connecting (start-up): resolves once Redis answers or the first attempt failed,
 * within a few seconds at most; it keeps reconnecting in the background either way.
 */
export async function connectLimitRedis(client: Redis): Promise<void> {
  await client.connect().catch(() => undefined);
}
