import type { PrismaClient } from '../../db/index.ts';
import { KEY_CREATION_LOCK, withTranslatedErrors } from '../../db/index.ts';
import type { AppliedKeys, KeyStore } from '../key-store.ts';

// Key rows on Postgres (both databases). A transaction-scoped advisory lock makes "look,
// then change" one step when several instances start, rotate or retire at once: the second
// waits, then plans on what the first committed.

// The plan generates keys (RSA among them) while holding the lock, so that instances starting
// together never both generate. On a loaded machine that outlives Prisma's 5 s default for an
// interactive transaction; a start that waits is better than one that fails.
const KEY_CREATION_TIMEOUTS = { maxWait: 30_000, timeout: 60_000 } as const;

// The keys as a plan sees them: times and ids, never the sealed material.
const PRESENT_SIGNING = { orderBy: { createdAt: 'desc' as const }, select: { kid: true, alg: true, createdAt: true, activatesAt: true, retiredAt: true } };
const PRESENT_COOKIES = { orderBy: { id: 'desc' as const }, select: { id: true, createdAt: true, activatesAt: true, retiredAt: true } };

export function createPrismaKeyStore(prisma: PrismaClient): KeyStore {
  const db = <T>(work: () => Promise<T>) => withTranslatedErrors('signing key', work);

  return {
    change: (plan) =>
      db(() =>
        prisma.$transaction(async (tx): Promise<AppliedKeys> => {
          await tx.$executeRaw`SELECT pg_advisory_xact_lock(${KEY_CREATION_LOCK})`;
          const [{ now }] = await tx.$queryRaw<[{ now: Date }]>`SELECT now() AS now`;
          const [signing, cookies] = await Promise.all([tx.signingKey.findMany(PRESENT_SIGNING), tx.cookieKey.findMany(PRESENT_COOKIES)]);
          const planned = await plan({ now, signing, cookies });
          for (const key of planned.signing) {
            await tx.signingKey.create({ data: { kid: key.kid, alg: key.alg, privateJwkCiphertext: key.sealedJwk, activatesAt: key.activatesAt } });
          }
          const added: { id: number; activatesAt: Date }[] = [];
          for (const key of planned.cookies) {
            const row = await tx.cookieKey.create({ data: { secretCiphertext: key.sealedSecret, activatesAt: key.activatesAt } });
            added.push({ id: row.id, activatesAt: row.activatesAt });
          }
          const retiredSigning: string[] = [];
          for (const kid of planned.retireSigning ?? []) {
            const { count } = await tx.signingKey.updateMany({ where: { kid, retiredAt: null }, data: { status: 'retired', retiredAt: now } });
            if (count > 0) retiredSigning.push(kid);
          }
          const retiredCookies: number[] = [];
          for (const id of planned.retireCookies ?? []) {
            const { count } = await tx.cookieKey.updateMany({ where: { id, retiredAt: null }, data: { retiredAt: now } });
            if (count > 0) retiredCookies.push(id);
          }
          return {
            signing: planned.signing.map(({ kid, alg, activatesAt }) => ({ kid, alg, activatesAt })),
            cookies: added,
            retiredSigning,
            retiredCookies,
          };
        }, KEY_CREATION_TIMEOUTS),
      ),

    present: () =>
      db(async () => {
        // No transaction and no advisory lock: a listing never queues behind the writers
        // (their plans may generate RSA keys under the lock).
        const [[{ now }], signing, cookies] = await Promise.all([
          prisma.$queryRaw<[{ now: Date }]>`SELECT now() AS now`,
          prisma.signingKey.findMany(PRESENT_SIGNING),
          prisma.cookieKey.findMany(PRESENT_COOKIES),
        ]);
        return { now, signing, cookies };
      }),

    signingKeys: () =>
      db(async () => {
        const rows = await prisma.signingKey.findMany({ orderBy: { createdAt: 'desc' } });
        return rows.map((row) => ({
          kid: row.kid,
          alg: row.alg,
          sealedJwk: row.privateJwkCiphertext,
          createdAt: row.createdAt,
          activatesAt: row.activatesAt,
          retiredAt: row.retiredAt,
        }));
      }),

    cookieKeys: () =>
      db(async () => {
        const rows = await prisma.cookieKey.findMany({ orderBy: { id: 'desc' } });
        return rows.map((row) => ({ id: row.id, sealedSecret: row.secretCiphertext, createdAt: row.createdAt, activatesAt: row.activatesAt, retiredAt: row.retiredAt }));
      }),
  };
}
