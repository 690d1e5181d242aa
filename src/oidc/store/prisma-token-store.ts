import type { PrismaClient } from '../../db/index.ts';
import type { TokenStore } from '../token-store.ts';
import { createPrismaConsentStore } from './prisma-consent-store.ts';
import { createPrismaReplayStore } from './prisma-replay-store.ts';
import { createPrismaGrantStore } from './prisma-grant-store.ts';
import { createPrismaJwtStore } from './prisma-jwt-store.ts';
import { createPrismaRotationStore } from './prisma-rotation-store.ts';

// The token store on Postgres (both databases), through Prisma: one part per concern of
// the contract in ../token-store.ts, each the only place its tables are written outside
// the engine's adapter. Every round trip a token costs can be read in these files.

export function createPrismaTokenStore(prisma: PrismaClient): TokenStore {
  return {
    ...createPrismaRotationStore(prisma),
    ...createPrismaConsentStore(prisma),
    ...createPrismaGrantStore(prisma),
    ...createPrismaJwtStore(prisma),
    ...createPrismaReplayStore(prisma),
  };
}
