import type { PrismaClient } from '../../db/index.ts';
import { withTranslatedErrors } from '../../db/index.ts';
import type { JwtStore } from '../token-store.ts';

// The standing of JWT access tokens on Postgres (both databases): the deny-list and their
// grant's liveness, read in one round trip per token (DESIGN.md, Performance).

export function createPrismaJwtStore(prisma: PrismaClient): JwtStore {
  const db = <T>(work: () => Promise<T>) => withTranslatedErrors('token', work);

  return {
    jwtStanding: (jti, grantId) =>
      db(async () => {
        const [row] = await prisma.$queryRaw<{ denied: boolean; grant_live: boolean }[]>`
          SELECT EXISTS (SELECT 1 FROM revoked_access_tokens WHERE jti = ${jti}) AS denied,
                 (${grantId ?? null}::text IS NULL OR EXISTS (
                    SELECT 1 FROM oidc_grants WHERE id = ${grantId ?? null} AND (expires_at IS NULL OR expires_at > now()))) AS grant_live`;
        return { denied: row?.denied ?? true, grantLive: row?.grant_live ?? false };
      }),

    denyJwt: (jti, expiresAt) =>
      db(async () => {
        await prisma.revokedAccessToken.upsert({ where: { jti }, create: { jti, expiresAt }, update: {} });
      }),
  };
}
