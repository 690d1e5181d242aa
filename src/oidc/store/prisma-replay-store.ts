import { createHash } from 'node:crypto';

import type { PrismaClient } from '../../db/index.ts';
import { withTranslatedErrors } from '../../db/index.ts';
import type { DpopReplayStore, PushedRequestStore } from '../token-store.ts';

// Things that may happen once: a DPoP proof at our APIs, a pushed request starting an
// authorization. Each is one atomic insert in the engine's replay table, shared by every
// instance, so of two concurrent requests exactly one wins (the engine's own
// ReplayDetection.unique reads, then writes). Ids are namespaced apart from the engine's;
// rows expire when the thing could no longer pass anyway, and housekeeping deletes them.

export function createPrismaReplayStore(prisma: PrismaClient): DpopReplayStore & PushedRequestStore {
  const db = <T>(work: () => Promise<T>) => withTranslatedErrors('token', work);

  const claimOnce = (namespace: string, value: string, until: Date) =>
    db(async () => {
      const id = createHash('sha256').update(`${namespace}:${value}`).digest('base64url');
      const { count } = await prisma.oidcReplayDetection.createMany({
        data: [{ id, payload: { kind: 'ReplayDetection', iss: namespace }, expiresAt: until }],
        skipDuplicates: true,
      });
      return count === 1;
    });

  return {
    firstUse: (jkt, jti, until) => claimOnce('resource-dpop', `${jkt}:${jti}`, until),
    takePushedRequest: (id, until) => claimOnce('pushed-request', id, until),
  };
}
