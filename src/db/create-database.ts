import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';

import { PrismaClient } from './generated/client.ts';

export type { PrismaClient };

/** The process's one connection pool and the Prisma client over it. */
export interface Database {
  readonly prisma: PrismaClient;
  readonly pool: pg.Pool;
  close(): Promise<void>;
}

export function createDatabase(options: { url: string; poolMax: number; idleTimeoutMillis?: number }): Database {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolMax,
    // Fail fast rather than queue forever when the database is gone.
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: options.idleTimeoutMillis ?? 30_000,
  });
  // An idle client losing its connection emits 'error' on the pool; unhandled, it would
  // crash the process. The next query reports the outage instead.
  pool.on('error', () => {});
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  let closed: Promise<void> | undefined;
  return {
    prisma,
    pool,
    close() {
      closed ??= (async () => {
        await prisma.$disconnect();
        await pool.end();
      })();
      return closed;
    },
  };
}
