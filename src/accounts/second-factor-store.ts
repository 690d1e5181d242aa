import type { PrismaClient, Sql } from '../db/index.ts';
import { withTranslatedErrors } from '../db/index.ts';
import { lockAccount } from './lock-account.ts';

// A person's TOTP authenticator and recovery codes, in plain SQL: these run at every
// second-factor sign-in. Every use is one conditional UPDATE, so of concurrent requests
// with the same code exactly one is answered with a row (the database decides, not a read
// before a write). The account page's rarer changes (removing the app, new recovery codes)
// are transactions that lock the account's row first, as adding a passkey does.

export interface TotpFactorRow {
  readonly secretSealed: string;
  /** Wrong codes since the last right one (or recovery code). */
  readonly failedCodes: number;
}

export interface SecondFactorStore {
  /** The account's confirmed authenticator. */
  findTotp(accountId: string): Promise<TotpFactorRow | undefined>;
  /**
   * Stores a confirmed authenticator, `step` spent, with the recovery codes' hashes in the
   * same statement: true for the one caller that stored it. An account that has a
   * confirmed one keeps it (false). Secrets are never stored before their first code: the
   * sign-in showing one keeps it sealed (second-factors.ts); a row left unconfirmed by an
   * older build is ignored by every read and replaced here.
   */
  confirmTotp(accountId: string, secretSealed: string, step: number, recoveryCodeHashes: readonly string[]): Promise<boolean>;
  /**
   * Spends time step `step` of the confirmed authenticator: true only if no later or equal
   * step was spent before and fewer than `maxFailed` wrong codes came since the last right
   * one (then the count starts again).
   */
  spendStep(accountId: string, step: number, maxFailed: number): Promise<boolean>;
  /** Counts a wrong code of the authenticator; the count now (0 without an authenticator). */
  countFailedCode(accountId: string): Promise<number>;
  /** Spends an unused recovery code: true for exactly one caller; the authenticator's wrong codes are forgiven with it. */
  spendRecoveryCode(accountId: string, codeHash: string): Promise<boolean>;
  /** Unused recovery codes left. */
  recoveryCodesLeft(accountId: string): Promise<number>;
  /** Removes the authenticator, the passkeys and every recovery code; whether there was anything. */
  removeAll(accountId: string): Promise<boolean>;
  /** What the account has: a confirmed authenticator, how many passkeys, how many unused recovery codes. */
  factors(accountId: string): Promise<FactorCounts>;
  /**
   * Removes the authenticator app; the recovery codes go with it when no passkey is left
   * (they recover a factor, and there is none). Whether there was one.
   */
  removeTotp(accountId: string): Promise<boolean>;
  /** Replaces every recovery code with these, for an account that has a factor: whether it had one. */
  replaceRecoveryCodes(accountId: string, recoveryCodeHashes: readonly string[]): Promise<boolean>;
}

export interface FactorCounts {
  readonly totp: boolean;
  readonly passkeys: number;
  readonly recoveryCodes: number;
}

export function createSecondFactorStore(sql: Sql, prisma: PrismaClient): SecondFactorStore {
  return {
    findTotp: (accountId) =>
      withTranslatedErrors('second factor', async () => {
        const { rows } = await sql.query<TotpFactorRow>(
          `SELECT secret_sealed AS "secretSealed", failed_codes AS "failedCodes" FROM totp_factors WHERE account_id = $1 AND confirmed_at IS NOT NULL`,
          [accountId],
        );
        return rows[0];
      }),
    confirmTotp: (accountId, secretSealed, step, hashes) =>
      withTranslatedErrors('second factor', async () => {
        // One statement: the confirmation and the new codes land together or not at all.
        const { rowCount } = await sql.query(
          `WITH confirmed AS (
             INSERT INTO totp_factors (account_id, secret_sealed, confirmed_at, last_step) VALUES ($1, $2, now(), $3)
             ON CONFLICT (account_id) DO UPDATE
               SET secret_sealed = EXCLUDED.secret_sealed, created_at = now(), confirmed_at = now(), last_step = EXCLUDED.last_step
               WHERE totp_factors.confirmed_at IS NULL
             RETURNING account_id),
           cleared AS (DELETE FROM recovery_codes WHERE account_id IN (SELECT account_id FROM confirmed))
           INSERT INTO recovery_codes (account_id, code_hash) SELECT account_id, unnest($4::text[]) FROM confirmed`,
          [accountId, secretSealed, step, [...hashes]],
        );
        return (rowCount ?? 0) > 0;
      }),
    spendStep: (accountId, step, maxFailed) =>
      withTranslatedErrors('second factor', async () => {
        const { rowCount } = await sql.query(
          `UPDATE totp_factors SET last_step = $2, failed_codes = 0
            WHERE account_id = $1 AND confirmed_at IS NOT NULL AND last_step < $2 AND failed_codes < $3`,
          [accountId, step, maxFailed],
        );
        return rowCount === 1;
      }),
    countFailedCode: (accountId) =>
      withTranslatedErrors('second factor', async () => {
        const { rows } = await sql.query<{ failed: number }>(
          `UPDATE totp_factors SET failed_codes = failed_codes + 1 WHERE account_id = $1 AND confirmed_at IS NOT NULL RETURNING failed_codes AS failed`,
          [accountId],
        );
        return rows[0]?.failed ?? 0;
      }),
    spendRecoveryCode: (accountId, codeHash) =>
      withTranslatedErrors('second factor', async () => {
        // One statement: the code is spent, and only then the app's wrong codes forgiven.
        const { rows } = await sql.query<{ spent: number }>(
          `WITH spent AS (UPDATE recovery_codes SET used_at = now() WHERE account_id = $1 AND code_hash = $2 AND used_at IS NULL RETURNING account_id),
           forgiven AS (UPDATE totp_factors SET failed_codes = 0 WHERE account_id IN (SELECT account_id FROM spent) RETURNING 1)
           SELECT (SELECT count(*) FROM spent)::int AS spent`,
          [accountId, codeHash],
        );
        return rows[0]?.spent === 1;
      }),
    recoveryCodesLeft: (accountId) =>
      withTranslatedErrors('second factor', async () => {
        const { rows } = await sql.query<{ left: number }>(`SELECT count(*)::int AS left FROM recovery_codes WHERE account_id = $1 AND used_at IS NULL`, [accountId]);
        return rows[0]?.left ?? 0;
      }),
    removeAll: (accountId) =>
      withTranslatedErrors('second factor', async () => {
        const { rows } = await sql.query<{ removed: number }>(
          `WITH codes AS (DELETE FROM recovery_codes WHERE account_id = $1 RETURNING 1),
           totp AS (DELETE FROM totp_factors WHERE account_id = $1 RETURNING 1),
           keys AS (DELETE FROM passkeys WHERE account_id = $1 RETURNING 1)
           SELECT ((SELECT count(*) FROM codes) + (SELECT count(*) FROM totp) + (SELECT count(*) FROM keys))::int AS removed`,
          [accountId],
        );
        return (rows[0]?.removed ?? 0) > 0;
      }),
    factors: (accountId) =>
      withTranslatedErrors('second factor', async () => {
        const { rows } = await sql.query<FactorCounts>(
          `SELECT EXISTS (SELECT 1 FROM totp_factors WHERE account_id = $1 AND confirmed_at IS NOT NULL) AS totp,
                  (SELECT count(*) FROM passkeys WHERE account_id = $1)::int AS passkeys,
                  (SELECT count(*) FROM recovery_codes WHERE account_id = $1 AND used_at IS NULL)::int AS "recoveryCodes"`,
          [accountId],
        );
        return rows[0]!;
      }),
    removeTotp: (accountId) =>
      withTranslatedErrors('second factor', () =>
        prisma.$transaction(async (tx) => {
          // The account's row first: a passkey added at the same moment is seen, its codes kept.
          await lockAccount(tx, accountId);
          if ((await tx.totpFactor.deleteMany({ where: { accountId, confirmedAt: { not: null } } })).count === 0) return false;
          if ((await tx.passkey.count({ where: { accountId } })) === 0) await tx.recoveryCode.deleteMany({ where: { accountId } });
          return true;
        }),
      ),
    replaceRecoveryCodes: (accountId, hashes) =>
      withTranslatedErrors('second factor', () =>
        prisma.$transaction(async (tx) => {
          // The account's row first: two renewals at once leave one set, not both.
          await lockAccount(tx, accountId);
          const factors = (await tx.totpFactor.count({ where: { accountId, confirmedAt: { not: null } } })) + (await tx.passkey.count({ where: { accountId } }));
          if (factors === 0) return false;
          await tx.recoveryCode.deleteMany({ where: { accountId } });
          await tx.recoveryCode.createMany({ data: hashes.map((codeHash) => ({ accountId, codeHash })) });
          return true;
        }),
      ),
  };
}
