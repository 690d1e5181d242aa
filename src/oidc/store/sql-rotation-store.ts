import type { AdapterPayload } from 'oidc-provider';

import { accountColumns, accountFromRow, accountIdAsUuid } from '../../accounts/index.ts';
import { withTranslatedErrors, type Sql } from '../../db/index.ts';
import type { ClaimOutcome, NewRefreshToken, RefreshRotationStore, RotationState, StoredRefreshToken } from '../token-store.ts';

// Refresh-token rotation on Postgres (both databases), in plain SQL on the pool: it runs on
// every refresh (db/sql.ts), and what it must say takes one statement each that Prisma's
// query API cannot express: a conditional claim that reports the claim it replaced, a
// completion that writes the successor only if the claim still holds, and ages measured on
// the database's clock, so that instances with slightly different clocks agree on leases
// and grace windows.

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

const ACCOUNT_PREFIX = 'account_';

export function createSqlRotationStore(sql: Sql): RefreshRotationStore {
  const db = <T>(work: () => Promise<T>) => withTranslatedErrors('token', work);

  const ROTATION_COLUMNS = `t.payload, t.expires_at, t.grant_id, t.successor_ciphertext, t.rotated_at IS NOT NULL AS rotated,
              (extract(epoch FROM (now() - t.consumed_at)) * 1000)::float8 AS claim_age_ms`;

  async function readRotationRow(id: string): Promise<RotationRow | undefined> {
    const { rows } = await sql.query<RotationRow>(`SELECT ${ROTATION_COLUMNS} FROM oidc_refresh_tokens t WHERE t.id = $1`, [id]);
    return rows[0];
  }

  return {
    findRefreshToken: (id) =>
      db(async (): Promise<StoredRefreshToken | undefined> => {
        // The grant and the person along with the token: the engine reads both next on
        // every refresh, and one round trip costs less than three.
        const { rows } = await sql.query<RotationRow & { grant_payload: unknown; grant_expires_at: Date | null; grant_found: boolean }>(
          `SELECT ${ROTATION_COLUMNS}, g.payload AS grant_payload, g.expires_at AS grant_expires_at, g.id IS NOT NULL AS grant_found,
                  ${accountColumns('a', ACCOUNT_PREFIX)}
             FROM oidc_refresh_tokens t
             LEFT JOIN oidc_grants g ON g.id = t.grant_id
             LEFT JOIN accounts a ON a.id = ${accountIdAsUuid("t.payload->>'accountId'")}
            WHERE t.id = $1`,
          [id],
        );
        const row = rows[0];
        if (!row) return undefined;
        const payload = row.payload as AdapterPayload;
        return {
          ...rotationState(row),
          payload,
          expiresAt: row.expires_at,
          grantId: row.grant_id,
          grant: row.grant_found ? { payload: row.grant_payload as AdapterPayload, expiresAt: row.grant_expires_at } : null,
          ...(typeof payload.accountId === 'string' && { account: accountFromRow(row, ACCOUNT_PREFIX) ?? null }),
        };
      }),

    claimRefreshToken: (id, claim, leaseMs) =>
      db(async (): Promise<ClaimOutcome> => {
        // The CTE locks the row and reads the claim being replaced; the UPDATE's condition
        // is re-checked against the newest version once a concurrent claim commits, so of
        // many concurrent claims one matches.
        const { rows } = await sql.query<{ previous_claim: string | null }>(
          `WITH previous AS (SELECT id, rotation_claim FROM oidc_refresh_tokens WHERE id = $1 FOR UPDATE)
           UPDATE oidc_refresh_tokens AS t
              SET consumed_at = now(), rotation_claim = $2
             FROM previous
            WHERE t.id = previous.id
              AND (t.consumed_at IS NULL
                   OR (t.rotated_at IS NULL AND t.consumed_at < now() - ($3::float8 * interval '1 millisecond')))
           RETURNING previous.rotation_claim AS previous_claim`,
          [id, claim, leaseMs],
        );
        const [row] = rows;
        if (!row) return 'refused';
        if (row.previous_claim === null) return 'claimed';
        // A successor is written only with its completion, so an abandoned claim left none;
        // this removes one stored by a version that wrote successors before completing.
        await sql.query('DELETE FROM oidc_refresh_tokens WHERE rotated_from = $1', [id]);
        return 'taken_over';
      }),

    completeRotation: (id, claim, successor, next?: NewRefreshToken) =>
      db(async () => {
        const complete = `UPDATE oidc_refresh_tokens SET rotated_at = now(), successor_ciphertext = $3
                           WHERE id = $1 AND rotation_claim = $2 AND rotated_at IS NULL RETURNING id`;
        if (!next) return (await sql.query(complete, [id, claim, successor])).rowCount === 1;
        // One statement: the successor is inserted only if the completion matched, and the
        // completion stands only with its successor (a failed insert undoes both).
        const { rows } = await sql.query<{ id: string }>(
          `WITH completed AS (${complete})
           INSERT INTO oidc_refresh_tokens (id, grant_id, payload, expires_at, rotated_from)
           SELECT $4, $5, $6::jsonb, $7, completed.id FROM completed
           RETURNING id`,
          [id, claim, successor, next.id, next.grantId, JSON.stringify(next.payload), next.expiresAt],
        );
        return rows.length === 1;
      }),

    releaseClaim: (id, claim) =>
      db(async () => {
        // One statement, conditional on the claim: a request whose claim was taken over
        // (its lease ran out) must neither free the token nor remove the successor the
        // new holder stored. The UPDATE locks the row, so no claim slips in between.
        await sql.query(
          `WITH released AS (
             UPDATE oidc_refresh_tokens SET consumed_at = NULL, rotation_claim = NULL
              WHERE id = $1 AND rotation_claim = $2 AND rotated_at IS NULL
             RETURNING id)
           DELETE FROM oidc_refresh_tokens WHERE rotated_from IN (SELECT id FROM released)`,
          [id, claim],
        );
      }),

    readRotation: (id) =>
      db(async () => {
        const row = await readRotationRow(id);
        return row && rotationState(row);
      }),
  };
}
