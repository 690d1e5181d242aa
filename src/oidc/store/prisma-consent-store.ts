import type { Prisma, PrismaClient } from '../../db/index.ts';
import { withTranslatedErrors } from '../../db/index.ts';
import type { ConsentRecord, ConsentStore } from '../token-store.ts';

// Remembered consent on Postgres (both databases): one row per person and client, which
// only ever grows until it is forgotten (grant-service.ts).

function splitScope(scope: string): string[] {
  return scope.split(' ').filter(Boolean);
}

function union(a: string, b: string): string {
  return [...new Set([...splitScope(a), ...splitScope(b)])].join(' ');
}

export function createPrismaConsentStore(prisma: PrismaClient): ConsentStore {
  const db = <T>(work: () => Promise<T>) => withTranslatedErrors('token', work);

  return {
    findConsent: (accountId, clientId) =>
      db(async () => {
        const row = await prisma.consent.findUnique({ where: { accountId_clientId: { accountId, clientId } } });
        if (!row) return undefined;
        return {
          oidcScope: row.oidcScope,
          oidcClaims: row.oidcClaims,
          resourceScopes: (row.resourceScopes ?? {}) as Record<string, string>,
        } satisfies ConsentRecord;
      }),

    rememberConsent: (accountId, clientId, consent) =>
      db(async () => {
        // Read, merge, write: two concurrent consents of one person to one client may keep
        // only the later one, which at worst asks that person once more.
        const current = await prisma.consent.findUnique({ where: { accountId_clientId: { accountId, clientId } } });
        const resources: Record<string, string> = { ...((current?.resourceScopes ?? {}) as Record<string, string>) };
        for (const [indicator, scope] of Object.entries(consent.resourceScopes)) resources[indicator] = union(resources[indicator] ?? '', scope);
        const data = {
          oidcScope: union(current?.oidcScope ?? '', consent.oidcScope),
          oidcClaims: [...new Set([...(current?.oidcClaims ?? []), ...consent.oidcClaims])],
          resourceScopes: resources as Prisma.InputJsonValue,
        };
        await prisma.consent.upsert({
          where: { accountId_clientId: { accountId, clientId } },
          create: { accountId, clientId, ...data },
          update: data,
        });
      }),
  };
}
