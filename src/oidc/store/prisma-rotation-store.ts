import type { AdapterPayload } from 'oidc-provider';

import type { PrismaClient } from '../../db/index.ts';
import { withTranslatedErrors } from '../../db/index.ts';
import type { ClaimOutcome, RefreshRotationStore, RotationState, StoredRefreshToken } from '../token-store.ts';

// Refresh-token rotation on Postgres (both databases), through Prisma. It uses raw SQL for
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

function rotationState(row: RotationRow): RotationState {
  return {
    claimAgeMs: row.claim_age_ms ?? undefined,
    rotated: row.rotated,
    successor: row.successor_ciphertext ?? undefined,
  };
}

export function createPrismaRotationStore(prisma: PrismaClient): RefreshRotationStore {
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
  };
}
