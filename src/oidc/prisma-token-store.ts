import { createHash } from 'node:crypto';

import type { AdapterPayload } from 'oidc-provider';

import type { Prisma, PrismaClient } from '../db/index.ts';
import { withTranslatedErrors } from '../db/index.ts';
import type { ClaimOutcome, ConsentRecord, GrantRow, RotationState, StoredRefreshToken, TokenStore } from './token-store.ts';

// The token store on Postgres (both databases), through Prisma. Rotation uses raw SQL for
// what Prisma's query API cannot say in one statement: a conditional claim that reports
// the claim it replaced, and ages measured on the database's clock, so that instances
// with slightly different clocks agree on leases and grace windows.

interface RotationRow {
  payload: unknown;
  expires_at: Date | null;
  grant_id: string | null;
  successor_ciphertext: string | null;
  rotated: boolean;
  claim_age_ms: number | null;
}

const live = () => ({ OR: [{ expiresAt: null }, { expiresAt: { gt: new Date() } }] });

/** Postgres refuses NUL in text: an id holding one cannot exist. */
const impossible = (id: string) => id.includes('\u0000');

function rotationState(row: RotationRow): RotationState {
  return {
    claimAgeMs: row.claim_age_ms ?? undefined,
    rotated: row.rotated,
    successor: row.successor_ciphertext ?? undefined,
  };
}

function splitScope(scope: string): string[] {
  return scope.split(' ').filter(Boolean);
}

function union(a: string, b: string): string {
  return [...new Set([...splitScope(a), ...splitScope(b)])].join(' ');
}

export function createPrismaTokenStore(prisma: PrismaClient): TokenStore {
  const db = <T>(work: () => Promise<T>) => withTranslatedErrors('token', work);

  async function readRotationRow(id: string): Promise<RotationRow | undefined> {
    const rows = await prisma.$queryRaw<RotationRow[]>`
      SELECT payload, expires_at, grant_id, successor_ciphertext, rotated_at IS NOT NULL AS rotated,
             (extract(epoch FROM (now() - consumed_at)) * 1000)::float8 AS claim_age_ms
        FROM oidc_refresh_tokens WHERE id = ${id}`;
    return rows[0];
  }

  return {
    findRefreshToken: (id) =>
      db(async (): Promise<StoredRefreshToken | undefined> => {
        const row = await readRotationRow(id);
        if (!row) return undefined;
        return { ...rotationState(row), payload: row.payload as AdapterPayload, expiresAt: row.expires_at, grantId: row.grant_id };
      }),

    claimRefreshToken: (id, claim, leaseMs) =>
      db(async (): Promise<ClaimOutcome> => {
        // The CTE locks the row and reads the claim being replaced; the UPDATE's condition
        // is re-checked against the newest version once a concurrent claim commits, so of
        // many concurrent claims one matches.
        const rows = await prisma.$queryRaw<{ previous_claim: string | null }[]>`
          WITH previous AS (SELECT id, rotation_claim FROM oidc_refresh_tokens WHERE id = ${id} FOR UPDATE)
          UPDATE oidc_refresh_tokens AS t
             SET consumed_at = now(), rotation_claim = ${claim}
            FROM previous
           WHERE t.id = previous.id
             AND (t.consumed_at IS NULL
                  OR (t.rotated_at IS NULL AND t.consumed_at < now() - (${leaseMs}::float8 * interval '1 millisecond')))
          RETURNING previous.rotation_claim AS previous_claim`;
        const [row] = rows;
        if (!row) return 'refused';
        if (row.previous_claim === null) return 'claimed';
        // The abandoned claim may have stored a successor that nobody ever received.
        await prisma.$executeRaw`DELETE FROM oidc_refresh_tokens WHERE rotated_from = ${id}`;
        return 'taken_over';
      }),

    completeRotation: (id, claim, successor) =>
      db(async () => {
        const count = await prisma.$executeRaw`
          UPDATE oidc_refresh_tokens SET rotated_at = now(), successor_ciphertext = ${successor}
           WHERE id = ${id} AND rotation_claim = ${claim} AND rotated_at IS NULL`;
        return count === 1;
      }),

    releaseClaim: (id, claim) =>
      db(async () => {
        // One statement, conditional on the claim: a request whose claim was taken over
        // (its lease ran out) must neither free the token nor remove the successor the
        // new holder stored. The UPDATE locks the row, so no claim slips in between.
        await prisma.$executeRaw`
          WITH released AS (
            UPDATE oidc_refresh_tokens SET consumed_at = NULL, rotation_claim = NULL
             WHERE id = ${id} AND rotation_claim = ${claim} AND rotated_at IS NULL
            RETURNING id)
          DELETE FROM oidc_refresh_tokens WHERE rotated_from IN (SELECT id FROM released)`;
      }),

    readRotation: (id) =>
      db(async () => {
        const row = await readRotationRow(id);
        return row && rotationState(row);
      }),

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
        const where = { grantId: { in: grantIds } };
        const [codes, accessTokens, refreshTokens, grants] = await prisma.$transaction([
          prisma.oidcAuthorizationCode.deleteMany({ where }),
          prisma.oidcAccessToken.deleteMany({ where }),
          prisma.oidcRefreshToken.deleteMany({ where }),
          prisma.oidcGrant.deleteMany({ where: { id: { in: grantIds } } }),
        ]);
        return { grants: grants.count, tokens: codes.count + accessTokens.count + refreshTokens.count };
      }),

    forgetConsent: (where) =>
      db(async () => (await prisma.consent.deleteMany({ where })).count),

    deleteSessions: (accountId) =>
      db(async () => (await prisma.oidcSession.deleteMany({ where: { accountId } })).count),

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

    takePushedRequest: (id, until) =>
      db(async () => {
        // The same one-insert claim as firstUse, in its own namespace: of a burst presenting
        // one request_uri exactly one authorization takes it.
        const key = createHash('sha256').update(`pushed-request:${id}`).digest('base64url');
        const { count } = await prisma.oidcReplayDetection.createMany({
          data: [{ id: key, payload: { kind: 'ReplayDetection', iss: 'pushed-request' }, expiresAt: until }],
          skipDuplicates: true,
        });
        return count === 1;
      }),

    deleteClientCredentials: (clientId) =>
      db(async () => (await prisma.oidcClientCredentials.deleteMany({ where: { payload: { path: ['clientId'], equals: clientId } } })).count),
  };
}
