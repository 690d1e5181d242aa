import type { Sql } from '../db/index.ts';
import { withTranslatedErrors } from '../db/index.ts';

// Password reset links, by the SHA-256 of their token (the token itself is only ever in the
// mail). The database's clock decides expiry, as it does for the engine's rows.

export interface ResetLink {
  readonly accountId: string;
  /** The sign-in the person asked from, if any. */
  readonly interactionUid: string | null;
}

export interface PasswordResetStore {
  create(link: { tokenHash: string; accountId: string; ttlSeconds: number; interactionUid?: string | undefined }): Promise<void>;
  /** The link, while unused and unexpired. */
  find(tokenHash: string): Promise<ResetLink | undefined>;
  /** Spends the link: exactly one caller gets it, and only while unused and unexpired. */
  consume(tokenHash: string): Promise<ResetLink | undefined>;
  /**
   * Counts a refused new password against the open link, spending it at the `limit`-th;
   * true when the link is spent now (or was no longer open).
   */
  refuse(tokenHash: string, limit: number): Promise<boolean>;
  /** Spends every other open link of the account (one reset ends them all). */
  spendAll(accountId: string): Promise<void>;
}

const LINK = `account_id AS "accountId", interaction_uid AS "interactionUid"`;

export function createPasswordResetStore(sql: Sql): PasswordResetStore {
  return {
    create: ({ tokenHash, accountId, ttlSeconds, interactionUid }) =>
      withTranslatedErrors('password reset', async () => {
        await sql.query(
          `INSERT INTO password_resets (token_hash, account_id, expires_at, interaction_uid) VALUES ($1, $2, now() + make_interval(secs => $3), $4)`,
          [tokenHash, accountId, ttlSeconds, interactionUid ?? null],
        );
      }),
    find: (tokenHash) =>
      withTranslatedErrors('password reset', async () => {
        const { rows } = await sql.query<ResetLink>(`SELECT ${LINK} FROM password_resets WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()`, [tokenHash]);
        return rows[0];
      }),
    consume: (tokenHash) =>
      withTranslatedErrors('password reset', async () => {
        const { rows } = await sql.query<ResetLink>(
          `UPDATE password_resets SET used_at = now() WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() RETURNING ${LINK}`,
          [tokenHash],
        );
        return rows[0];
      }),
    refuse: (tokenHash, limit) =>
      withTranslatedErrors('password reset', async () => {
        const { rows } = await sql.query<{ spent: boolean }>(
          `UPDATE password_resets SET refusals = refusals + 1, used_at = CASE WHEN refusals + 1 >= $2 THEN now() ELSE used_at END
           WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() RETURNING used_at IS NOT NULL AS spent`,
          [tokenHash, limit],
        );
        return rows[0]?.spent ?? true;
      }),
    spendAll: (accountId) =>
      withTranslatedErrors('password reset', async () => {
        await sql.query(`UPDATE password_resets SET used_at = now() WHERE account_id = $1 AND used_at IS NULL`, [accountId]);
      }),
  };
}
