import { createHash } from 'node:crypto';

import type { PrismaClient } from '../db/index.ts';
import { withTranslatedErrors } from '../db/index.ts';

// The memory of DPoP proofs spent at our resource endpoints (RFC 9449 section 11.1): a proof's
// jti is accepted once per key. Kept in the engine's replay table, so every instance on the
// database shares it, and claimed with one atomic insert: of two concurrent requests with
// one proof, here or on another instance, exactly one wins. (The engine's own
// ReplayDetection.unique reads, then writes, which a concurrent burst can slip through.)
// Rows expire when the proof could no longer pass the iat check; housekeeping deletes them.

export interface DpopReplayStore {
  /** True the first time this key's proof id is presented; false for every replay. */
  firstUse(jkt: string, jti: string, until: Date): Promise<boolean>;
}

export function createDpopReplayStore(prisma: PrismaClient): DpopReplayStore {
  return {
    async firstUse(jkt, jti, until) {
      // Namespaced apart from the engine's ids (sha256 of client id + jti) in the same table.
      const id = createHash('sha256').update(`resource-dpop:${jkt}:${jti}`).digest('base64url');
      const { count } = await withTranslatedErrors('DPoP proof record', () =>
        prisma.oidcReplayDetection.createMany({
          data: [{ id, payload: { kind: 'ReplayDetection', iss: 'resource-dpop' }, expiresAt: until }],
          skipDuplicates: true,
        }),
      );
      return count === 1;
    },
  };
}
