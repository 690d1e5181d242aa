import type { Sql } from '../db/index.ts';
import { withTranslatedErrors } from '../db/index.ts';

// Passkeys (WebAuthn credentials) and the challenges handed out for them, in plain SQL.
// Every use is one conditional statement, so of concurrent requests answering one challenge,
// or using one credential's counter, the database lets exactly one through.

export interface PasskeyRow {
  readonly id: string;
  readonly accountId: string;
  readonly publicKey: Uint8Array;
  readonly counter: number;
  readonly transports: readonly string[];
  readonly backedUp: boolean;
  readonly name: string;
  readonly createdAt: Date;
  readonly lastUsedAt: Date | null;
}

export type ChallengePurpose = 'register' | 'second-factor' | 'sign-in';

export interface ChallengeRecord {
  readonly challengeHash: string;
  readonly purpose: ChallengePurpose;
  readonly binding: string;
  readonly accountId: string | undefined;
  readonly expiresAt: Date;
}

export interface PasskeyStore {
  /** Stores a new credential: false when its id is registered already (to anyone). */
  insert(row: Omit<PasskeyRow, 'createdAt' | 'lastUsedAt'>): Promise<boolean>;
  find(id: string): Promise<PasskeyRow | undefined>;
  list(accountId: string): Promise<readonly PasskeyRow[]>;
  /**
   * Records a use: true for the one caller whose counter is above the stored one (or both
   * zero: authenticators that keep no counter, as synced passkeys do).
   */
  recordUse(id: string, accountId: string, counter: number, backedUp: boolean): Promise<boolean>;
  rename(accountId: string, id: string, name: string): Promise<boolean>;
  remove(accountId: string, id: string): Promise<boolean>;
  /** Keeps a challenge until it is spent or expires. */
  saveChallenge(challenge: ChallengeRecord): Promise<void>;
  /** Whether this challenge is open for this purpose, binding and account (nothing spent). */
  challengeOpen(challengeHash: string, purpose: ChallengePurpose, binding: string, accountId: string | undefined): Promise<boolean>;
  /** Spends the challenge: true for exactly one caller, while it is unexpired. */
  spendChallenge(challengeHash: string, purpose: ChallengePurpose, binding: string, accountId: string | undefined): Promise<boolean>;
}

const COLUMNS = `id, account_id AS "accountId", public_key AS "publicKey", counter::float8 AS counter, transports,
  backed_up AS "backedUp", name, created_at AS "createdAt", last_used_at AS "lastUsedAt"`;

// The account column matched as given: NULL for a sign-in's challenge (no account yet).
const CHALLENGE_MATCH = `challenge_hash = $1 AND purpose = $2 AND binding = $3 AND account_id IS NOT DISTINCT FROM $4::uuid AND expires_at > now()`;

export function createPasskeyStore(sql: Sql): PasskeyStore {
  return {
    insert: (row) =>
      withTranslatedErrors('passkey', async () => {
        const { rowCount } = await sql.query(
          `INSERT INTO passkeys (id, account_id, public_key, counter, transports, backed_up, name) VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (id) DO NOTHING`,
          [row.id, row.accountId, Buffer.from(row.publicKey), row.counter, [...row.transports], row.backedUp, row.name],
        );
        return rowCount === 1;
      }),
    find: (id) =>
      withTranslatedErrors('passkey', async () => {
        const { rows } = await sql.query<PasskeyRow>(`SELECT ${COLUMNS} FROM passkeys WHERE id = $1`, [id]);
        return rows[0];
      }),
    list: (accountId) =>
      withTranslatedErrors('passkey', async () => {
        const { rows } = await sql.query<PasskeyRow>(`SELECT ${COLUMNS} FROM passkeys WHERE account_id = $1 ORDER BY created_at, id`, [accountId]);
        return rows;
      }),
    recordUse: (id, accountId, counter, backedUp) =>
      withTranslatedErrors('passkey', async () => {
        const { rowCount } = await sql.query(
          `UPDATE passkeys SET counter = $3, backed_up = $4, last_used_at = now()
            WHERE id = $1 AND account_id = $2 AND (counter < $3 OR (counter = 0 AND $3 = 0))`,
          [id, accountId, counter, backedUp],
        );
        return rowCount === 1;
      }),
    rename: (accountId, id, name) =>
      withTranslatedErrors('passkey', async () => {
        const { rowCount } = await sql.query(`UPDATE passkeys SET name = $3 WHERE id = $2 AND account_id = $1`, [accountId, id, name]);
        return rowCount === 1;
      }),
    remove: (accountId, id) =>
      withTranslatedErrors('passkey', async () => {
        const { rowCount } = await sql.query(`DELETE FROM passkeys WHERE id = $2 AND account_id = $1`, [accountId, id]);
        return rowCount === 1;
      }),
    saveChallenge: (challenge) =>
      withTranslatedErrors('passkey', async () => {
        await sql.query(`INSERT INTO webauthn_challenges (challenge_hash, purpose, binding, account_id, expires_at) VALUES ($1, $2, $3, $4, $5)`, [
          challenge.challengeHash,
          challenge.purpose,
          challenge.binding,
          challenge.accountId ?? null,
          challenge.expiresAt,
        ]);
      }),
    challengeOpen: (challengeHash, purpose, binding, accountId) =>
      withTranslatedErrors('passkey', async () => {
        const { rowCount } = await sql.query(`SELECT 1 FROM webauthn_challenges WHERE ${CHALLENGE_MATCH}`, [challengeHash, purpose, binding, accountId ?? null]);
        return rowCount === 1;
      }),
    spendChallenge: (challengeHash, purpose, binding, accountId) =>
      withTranslatedErrors('passkey', async () => {
        const { rowCount } = await sql.query(`DELETE FROM webauthn_challenges WHERE ${CHALLENGE_MATCH}`, [challengeHash, purpose, binding, accountId ?? null]);
        return rowCount === 1;
      }),
  };
}
