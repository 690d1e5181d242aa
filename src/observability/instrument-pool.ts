import type pg from 'pg';

import type { Metrics } from './metrics.ts';

// Query latency at the one place every query passes: the pg client. Prisma (through
// adapter-pg), the migration runner, housekeeping and readiness all use the same pool,
// so wrapping each client's `query` as it is checked out times all of them, including
// queries inside transactions. The label is the SQL command word only: never the text,
// never a value.

const COMMANDS = new Set(['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'WITH', 'BEGIN', 'COMMIT', 'ROLLBACK', 'SAVEPOINT', 'RELEASE', 'SET', 'SHOW', 'DEALLOCATE']);
const WRAPPED = Symbol('portcullis.query-timed');

function commandOf(query: unknown): string {
  const text = typeof query === 'string' ? query : (query as { text?: unknown } | null)?.text;
  if (typeof text !== 'string') return 'OTHER';
  const word = /^\s*([A-Za-z]+)/.exec(text)?.[1]?.toUpperCase() ?? '';
  return COMMANDS.has(word) ? word : 'OTHER';
}

type QueryFunction = (...args: unknown[]) => unknown;

function wrap(client: pg.PoolClient, metrics: Metrics): void {
  const target = client as unknown as Record<PropertyKey, unknown>;
  if (target[WRAPPED]) return;
  target[WRAPPED] = true;
  const original = (client.query as QueryFunction).bind(client);
  target.query = (...args: unknown[]) => {
    const stop = metrics.dbQueryDuration.startTimer({ command: commandOf(args[0]) });
    const last = args.length - 1;
    const callback = args[last];
    if (typeof callback === 'function') {
      // pool.query's form: (config, values, callback).
      args[last] = (...results: unknown[]) => {
        stop();
        return (callback as QueryFunction)(...results);
      };
      return original(...args);
    }
    const result = original(...args);
    if (result !== null && typeof result === 'object' && typeof (result as Promise<unknown>).then === 'function') {
      (result as Promise<unknown>).then(
        () => stop(),
        () => stop(),
      );
    }
    return result;
  };
}

/** Times every query run through the pool from now on (idempotent per client). */
export function instrumentPool(pool: pg.Pool, metrics: Metrics): void {
  pool.on('acquire', (client) => wrap(client, metrics));
  metrics.trackPool(pool);
}
