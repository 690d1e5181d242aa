import type { PrismaClient } from '../../db/index.ts';
import { KEY_CREATION_LOCK, withTranslatedErrors } from '../../db/index.ts';
import type { AddedKeys, KeyStore } from '../key-store.ts';

// Key rows on Postgres (both databases). A transaction-scoped advisory lock makes "create
// what is missing" one step when several instances start at once: the second waits, then
// plans on what the first committed.

// The plan generates keys (RSA among them) while holding the lock, so that instances starting
// together never both generate. On a loaded machine that outlives Prisma's 5 s default for an
// interactive transaction; a start that waits is better than one that fails.
const KEY_CREATION_TIMEOUTS = { maxWait: 30_000, timeout: 60_000 } as const;

export function createPrismaKeyStore(prisma: PrismaClient): KeyStore {
  const db = <T>(work: () => Promise<T>) => withTranslatedErrors('signing key', work);

  return {
    addMissing: (plan) =>
      db(() =>
        prisma.$transaction(async (tx): Promise<AddedKeys> => {
          await tx.$executeRaw`SELECT pg_advisory_xact_lock(${KEY_CREATION_LOCK})`;
          const active = await tx.signingKey.findMany({ where: { status: 'active' }, select: { alg: true } });
          const planned = await plan({ activeSigningAlgs: active.map((key) => key.alg), cookieKeys: await tx.cookieKey.count() });
          for (const key of planned.signing) {
            await tx.signingKey.create({ data: { kid: key.kid, alg: key.alg, privateJwkCiphertext: key.sealedJwk } });
          }
          const cookieKeyIds: number[] = [];
          for (const secretCiphertext of planned.sealedCookieSecrets) {
            cookieKeyIds.push((await tx.cookieKey.create({ data: { secretCiphertext } })).id);
          }
          return { signing: planned.signing.map(({ kid, alg }) => ({ kid, alg })), cookieKeyIds };
        }, KEY_CREATION_TIMEOUTS),
      ),

    signingKeys: () =>
      db(async () => {
        const rows = await prisma.signingKey.findMany({ orderBy: [{ status: 'asc' }, { createdAt: 'desc' }] });
        return rows.map((row) => ({ kid: row.kid, alg: row.alg, status: row.status, sealedJwk: row.privateJwkCiphertext }));
      }),

    cookieKeys: () =>
      db(async () => {
        const rows = await prisma.cookieKey.findMany({ orderBy: { id: 'desc' } });
        return rows.map((row) => ({ id: row.id, sealedSecret: row.secretCiphertext }));
      }),
  };
}
