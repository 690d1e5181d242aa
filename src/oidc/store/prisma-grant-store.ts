import type { PrismaClient } from '../../db/index.ts';
import { isForeignKeyViolation, withTranslatedErrors } from '../../db/index.ts';
import { SIGNED_OUT_SESSION } from '../ended-session.ts';
import type { GrantRow, GrantStore, RevocationCount } from '../token-store.ts';

// Grants as people see them, and taking them back, on Postgres (both databases). A
// revocation deletes a grant and everything stored under it in one transaction, so it is
// gone for every instance at once.

const live = () => ({ OR: [{ expiresAt: null }, { expiresAt: { gt: new Date() } }] });

/** Postgres refuses NUL in text: an id holding one cannot exist. */
const impossible = (id: string) => id.includes('\u0000');

type Transaction = Parameters<Parameters<PrismaClient['$transaction']>[0]>[0];

/**
 * Deletes grants and every code and token stored under them, inside the caller's
 * transaction; grants exchanged from them (token-exchange.ts) go with them through the
 * parent_id foreign key, their tokens dead without a grant.
 */
async function deleteGrants(tx: Transaction, grantIds: readonly string[]): Promise<RevocationCount> {
  const where = { grantId: { in: [...grantIds] } };
  const codes = await tx.oidcAuthorizationCode.deleteMany({ where });
  const deviceCodes = await tx.oidcDeviceCode.deleteMany({ where });
  const accessTokens = await tx.oidcAccessToken.deleteMany({ where });
  const refreshTokens = await tx.oidcRefreshToken.deleteMany({ where });
  const grants = await tx.oidcGrant.deleteMany({ where: { id: { in: [...grantIds] } } });
  return { grants: grants.count, tokens: codes.count + deviceCodes.count + accessTokens.count + refreshTokens.count };
}

export function createPrismaGrantStore(prisma: PrismaClient): GrantStore {
  const db = <T>(work: () => Promise<T>) => withTranslatedErrors('token', work);

  return {
    listGrants: ({ accountId }) =>
      db(() => prisma.oidcGrant.findMany({ where: { accountId, ...live() }, orderBy: { id: 'asc' } })),

    findGrant: (grantId) =>
      db(async (): Promise<GrantRow | undefined> => {
        if (impossible(grantId)) return undefined;
        return (await prisma.oidcGrant.findFirst({ where: { id: grantId, ...live() } })) ?? undefined;
      }),

    grantIds: (where) =>
      db(async () => {
        const rows = await prisma.oidcGrant.findMany({ where, select: { id: true } });
        return rows.map((row) => row.id);
      }),

    revokeGrants: (requested) =>
      db(async () => {
        const grantIds = requested.filter((id) => !impossible(id));
        if (grantIds.length === 0) return { grants: 0, tokens: 0 };
        return prisma.$transaction((tx) => deleteGrants(tx, grantIds));
      }),

    linkExchangedGrant: (grantId, parentId) =>
      db(async () => {
        if (impossible(grantId) || impossible(parentId)) return false;
        try {
          return (await prisma.$executeRaw`UPDATE oidc_grants SET parent_id = ${parentId} WHERE id = ${grantId}`) === 1;
        } catch (error) {
          // The parent is gone (revoked, expired and deleted): there is nothing to link to.
          if (isForeignKeyViolation(error)) return false;
          throw error;
        }
      }),

    revokeExchangedFrom: (grantId) =>
      db(async () => (impossible(grantId) ? 0 : (await prisma.oidcGrant.deleteMany({ where: { parentId: grantId } })).count)),

    forgetConsent: (where) =>
      db(async () => (await prisma.consent.deleteMany({ where })).count),

    // Sessions end marked, never deleted, so a request of that browser still in flight can
    // neither save one back nor carry it on under a new id (ended-session.ts).
    endSessions: (accountId) =>
      db(() => prisma.$executeRawUnsafe(`UPDATE oidc_sessions SET ${SIGNED_OUT_SESSION} WHERE account_id = $1 AND ended_at IS NULL`, accountId)),

    listSessions: (accountId) =>
      db(() => prisma.oidcSession.findMany({ where: { accountId, endedAt: null, ...live() }, select: { uid: true, payload: true, expiresAt: true } })),

    endSession: (accountId, uid, grantsIn) =>
      db(async () => {
        if (impossible(uid)) return undefined;
        // One transaction: the session ends with the grants made in it, or neither does, so a
        // retry after a failure finds the session still live and ends it all. The UPDATE's row
        // lock makes concurrent calls wait; the one after finds it ended and matches nothing.
        return prisma.$transaction(async (tx) => {
          const rows = await tx.$queryRawUnsafe<{ payload: unknown }[]>(
            `UPDATE oidc_sessions SET ${SIGNED_OUT_SESSION} WHERE uid = $1 AND account_id = $2 AND ended_at IS NULL RETURNING payload`,
            uid,
            accountId,
          );
          const ended = rows[0];
          if (!ended) return undefined;
          const named = grantsIn(ended.payload).filter((id) => !impossible(id));
          // Only this account's grants, whatever the session's payload names.
          const own = named.length === 0 ? [] : (await tx.oidcGrant.findMany({ where: { id: { in: named }, accountId }, select: { id: true } })).map((row) => row.id);
          return { payload: ended.payload, ...(own.length === 0 ? { grants: 0, tokens: 0 } : await deleteGrants(tx, own)) };
        });
      }),

    deleteUngrantedTokens: (clientId) =>
      db(async () => {
        const where = { payload: { path: ['clientId'], equals: clientId } };
        const [machineTokens, deviceCodes] = await prisma.$transaction([
          prisma.oidcClientCredentials.deleteMany({ where }),
          prisma.oidcDeviceCode.deleteMany({ where }),
        ]);
        return machineTokens.count + deviceCodes.count;
      }),
  };
}
