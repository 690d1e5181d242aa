import { createHash } from 'node:crypto';

import type { PrismaClient } from '../../db/index.ts';
import { withTranslatedErrors } from '../../db/index.ts';
import type { DpopReplayStore } from '../token-store.ts';

export function createPrismaDpopReplayStore(prisma: PrismaClient): DpopReplayStore {
  const db = <T>(work: () => Promise<T>) => withTranslatedErrors('token', work);

  return {
    firstUse: (jkt, jti, until) =>
      db(async () => {
        // One atomic insert in the engine's replay table, shared by every instance: of two
        // concurrent requests with one proof exactly one wins. (The engine's own
        // ReplayDetection.unique reads, then writes.) Namespaced apart from the engine's ids;
        // rows expire when the proof's iat could no longer pass, and housekeeping deletes them.
        const id = createHash('sha256').update(`resource-dpop:${jkt}:${jti}`).digest('base64url');
        const { count } = await prisma.oidcReplayDetection.createMany({
          data: [{ id, payload: { kind: 'ReplayDetection', iss: 'resource-dpop' }, expiresAt: until }],
          skipDuplicates: true,
        });
        return count === 1;
      }),
  };
}
