import type { PrismaClient, Sql } from '../db/index.ts';
import { withTranslatedErrors } from '../db/index.ts';
import { lockAccount } from './lock-account.ts';

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

export type InsertOutcome = { readonly added: true; readonly recoveryCodes: boolean } | { readonly added: false; readonly reason: 'taken' | 'too_many' };

export interface PasskeyStore {
  /**
   * Stores a new credential, with the account's row locked (one at a time per account, so
   * the limit holds against a burst): refused when its id is registered already (to anyone)
   * or the account holds `max`. When it is the account's first factor (no authenticator app,
   * no other passkey), `firstRecoveryCodes` replace every recovery code it had, in the same
   * transaction: `recoveryCodes` says whether they did.
   */
  insert(row: Omit<PasskeyRow, 'createdAt' | 'lastUsedAt'>, max: number, firstRecoveryCodes: readonly string[]): Promise<InsertOutcome>;
  find(id: string): Promise<PasskeyRow | undefined>;
  list(accountId: string): Promise<readonly PasskeyRow[]>;
  /**
   * Records a use: true for the one caller whose counter is above the stored one (or both
   * zero: authenticators that keep no counter, as synced passkeys do).
   */
  recordUse(id: string, accountId: string, counter: number, backedUp: boolean): Promise<boolean>;
  /** Removes one of the account's passkeys (its recovery codes too, when no factor is left): whether it was there. */
  remove(accountId: string, id: string): Promise<boolean>;
  /** Keeps a challenge until it is spent or expires; a binding keeps its newest few of a purpose (a page reloaded over and over stores no more). */
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

/** Open challenges a binding keeps per purpose: a few tabs of one sign-in, not a reload loop's worth. */
const KEPT_PER_BINDING = 5;

export function createPasskeyStore(sql: Sql, prisma: PrismaClient): PasskeyStore {
  return {
    insert: (row, max, firstRecoveryCodes) =>
      withTranslatedErrors('passkey', () =>
        prisma.$transaction(async (tx): Promise<InsertOutcome> => {
          await lockAccount(tx, row.accountId);
          const passkeys = await tx.passkey.count({ where: { accountId: row.accountId } });
          if (passkeys >= max) return { added: false, reason: 'too_many' };
          if (await tx.passkey.findUnique({ where: { id: row.id }, select: { id: true } })) return { added: false, reason: 'taken' };
          // The first factor: no app and (counted above, under the lock) no passkey yet.
          const first = passkeys === 0 && (await tx.totpFactor.count({ where: { accountId: row.accountId, confirmedAt: { not: null } } })) === 0;
          await tx.passkey.create({
            data: { id: row.id, accountId: row.accountId, publicKey: Buffer.from(row.publicKey), counter: row.counter, transports: [...row.transports], backedUp: row.backedUp, name: row.name },
          });
          if (!first) return { added: true, recoveryCodes: false };
          await tx.recoveryCode.deleteMany({ where: { accountId: row.accountId } });
          await tx.recoveryCode.createMany({ data: firstRecoveryCodes.map((codeHash) => ({ accountId: row.accountId, codeHash })) });
          return { added: true, recoveryCodes: true };
        }),
      ),
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
    remove: (accountId, id) =>
      withTranslatedErrors('passkey', () =>
        prisma.$transaction(async (tx) => {
          await lockAccount(tx, accountId);
          if ((await tx.passkey.deleteMany({ where: { id, accountId } })).count !== 1) return false;
          // The last factor gone: its recovery codes recover nothing, and must not pass for a factor.
          const left = (await tx.passkey.count({ where: { accountId } })) + (await tx.totpFactor.count({ where: { accountId, confirmedAt: { not: null } } }));
          if (left === 0) await tx.recoveryCode.deleteMany({ where: { accountId } });
          return true;
        }),
      ),
    saveChallenge: (challenge) =>
      withTranslatedErrors('passkey', async () => {
        await sql.query(
          `WITH older AS (DELETE FROM webauthn_challenges WHERE challenge_hash IN (
             SELECT challenge_hash FROM webauthn_challenges WHERE binding = $3 AND purpose = $2 ORDER BY expires_at DESC OFFSET ${KEPT_PER_BINDING - 1}))
           INSERT INTO webauthn_challenges (challenge_hash, purpose, binding, account_id, expires_at) VALUES ($1, $2, $3, $4, $5)`,
          [challenge.challengeHash, challenge.purpose, challenge.binding, challenge.accountId ?? null, challenge.expiresAt],
        );
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
