import type { PrismaClient, Sql } from '../../db/index.ts';
import type { TokenStore } from '../token-store.ts';
import { createPrismaConsentStore } from './prisma-consent-store.ts';
import { createPrismaReplayStore } from './prisma-replay-store.ts';
import { createPrismaGrantStore } from './prisma-grant-store.ts';
import { createPrismaJwtStore } from './prisma-jwt-store.ts';
import { createSqlRotationStore } from './sql-rotation-store.ts';

// The token store on Postgres (both databases), through Prisma, and for refresh-token
// rotation (on every refresh) in plain SQL on the same pool: one part per concern of the
// contract in ../token-store.ts, each the only place its tables are written outside the
// engine's adapter. Every round trip a token costs can be read in these files.

export function createPrismaTokenStore(prisma: PrismaClient, sql: Sql): TokenStore {
  return {
    ...createSqlRotationStore(sql),
    ...createPrismaConsentStore(prisma),
    ...createPrismaGrantStore(prisma),
    ...createPrismaJwtStore(prisma),
    ...createPrismaReplayStore(prisma),
  };
}
