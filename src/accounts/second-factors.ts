import { createHash, randomBytes } from 'node:crypto';

import { Secret, TOTP } from 'otpauth';
import { z } from 'zod';

import type { Sealer } from '../crypto/index.ts';
import { createMailboxProofs, type MailboxProofs } from './mailbox-proof.ts';
import type { FactorCounts, SecondFactorStore } from './second-factor-store.ts';

// Second factors: a TOTP authenticator (RFC 6238: SHA-1, 6 digits, 30 s, as every
// authenticator app reads them) and ten recovery codes. Rules:
// - the shared secret (160 random bits) is sealed at rest; it is shown only on the
//   enrolment page, as a QR code and as a key to type, until a first code confirms it;
// - an enrolment belongs to the one sign-in that showed it: its secret is not stored but
//   handed back sealed, bound to the account and that sign-in (`binding`, the interaction
//   uid), for the sign-in to keep (interactions/pending-login.ts); it works for ten
//   minutes. So no one who saw a secret in one sign-in (an attacker with the password) can
//   have it confirmed in another (the owner's), and nothing unconfirmed is ever stored;
// - a code is accepted for the current time step or one step either side (clock drift);
//   a code is accepted once: its step is spent atomically (second-factor-store.ts), so a
//   replayed code, or a concurrent burst of the same one, is refused all but once;
// - ten recovery codes of 80 random bits are made when the authenticator is confirmed,
//   shown once, stored as SHA-256 hashes; each works once, in place of a code;
// - the clock is injected (`now`), so drift is testable to the step.
// The enrolment logic lives here, not in the pages, so an account page can offer it too.

export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
/** Steps either side of now that a code may come from. */
export const TOTP_WINDOW = 1;
export const RECOVERY_CODE_COUNT = 10;

const SIX_DIGITS = /^\d{6}$/;
// 16 characters of Crockford's base32 (no i, l, o, u: 80 bits), shown in groups of four.
const RECOVERY_ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
const RECOVERY_CHARS = 16;

export type FactorState = 'none' | 'confirmed';

/** How long a secret shown at enrolment can be confirmed. */
export const ENROLMENT_TTL_MS = 10 * 60 * 1000;

export interface Enrolment {
  /** The secret in base32, for typing into an app. Never logged. */
  readonly secret: string;
  /** The otpauth:// URI the QR code carries. */
  readonly uri: string;
  /** The secret sealed with its account, binding and time: kept by the sign-in showing it, never stored. */
  readonly sealed: string;
  /** A new secret was made now (not the one shown before). */
  readonly created: boolean;
}

const sealedEnrolmentSchema = z.object({ account: z.string(), binding: z.string(), secret: z.string(), issuedAt: z.number() });

/**
 * Wrong codes of the app in a row before its codes are refused (NIST SP 800-63B 5.2.2 caps
 * failed attempts at 100): with the password known, a guesser gets at most this many tries
 * at the 3 codes of 10^6 valid at once, not one a minute for ever. A recovery code (80 bits:
 * not guessable) or an operator's reset lifts it.
 */
export const MAX_FAILED_CODES = 100;

/** `locked`: this wrong code reached MAX_FAILED_CODES (`now`), or the app's codes were refused already. */
export type VerifyOutcome =
  | { readonly ok: true; readonly method: 'otp' | 'recovery'; readonly recoveryCodesLeft?: number }
  | { readonly ok: false; readonly locked?: 'now' | 'already' };

export interface SecondFactors {
  /** Confirmed: the account has an authenticator app or a passkey. */
  state(accountId: string): Promise<FactorState>;
  /** Which factors the account has, and its unused recovery codes. */
  factors(accountId: string): Promise<FactorCounts>;

  /**
   * A secret for the account to enrol in the sign-in `binding`: the one this sign-in already
   * shows (`kept`, while its ten minutes last: a reload keeps the scanned QR valid), else a
   * new one. Undefined when the account has a confirmed authenticator.
   */
  startEnrolment(account: { id: string; email: string }, binding: string, kept?: string): Promise<Enrolment | undefined>;
  /**
   * Confirms the secret this sign-in (`binding`) was shown (`sealed`) with a code from it:
   * the ten recovery codes, shown once, or undefined (wrong code, another sign-in's or
   * account's secret, expired, or an authenticator already confirmed).
   */
  confirmEnrolment(accountId: string, binding: string, sealed: string | undefined, code: string): Promise<readonly string[] | undefined>;
  /** A code from the authenticator or an unused recovery code, at sign-in. */
  verify(accountId: string, code: string): Promise<VerifyOutcome>;
  /** The person's own removal of their authenticator app (recovery codes too, when no passkey is left): whether there was one. */
  removeAuthenticator(accountId: string): Promise<boolean>;
  /** Ten new recovery codes in place of every old one, shown once; undefined for an account without a factor. */
  renewRecoveryCodes(accountId: string): Promise<readonly string[] | undefined>;
  /** An operator's reset: the authenticator, the passkeys and the recovery codes are gone; whether there were any. */
  reset(accountId: string): Promise<boolean>;
  /** Codes mailed before an enrolment at sign-in, proving the mailbox (mailbox-proof.ts). */
  readonly mailboxProofs: MailboxProofs;
}

/** A recovery code as typed: case, spaces and dashes do not matter. */
export function normalizeRecoveryCode(code: string): string | undefined {
  const compact = code.toLowerCase().replace(/[\s-]/g, '');
  return compact.length === RECOVERY_CHARS && [...compact].every((c) => RECOVERY_ALPHABET.includes(c)) ? compact : undefined;
}

export const hashRecoveryCode = (normalized: string) => createHash('sha256').update(normalized).digest('base64url');

function newRecoveryCode(): string {
  const bytes = randomBytes(RECOVERY_CHARS);
  // 256 is a multiple of 32: every character is equally likely (5 bits each, 80 in all).
  const chars = [...bytes].map((byte) => RECOVERY_ALPHABET[byte % 32]!).join('');
  return chars.match(/.{4}/g)!.join('-');
}

const newRecoveryCodes = () => Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
const recoveryCodeHash = (code: string) => hashRecoveryCode(normalizeRecoveryCode(code)!);

/** Ten new recovery codes, as shown, and their hashes, as stored. */
export function newRecoveryCodeSet(): { readonly codes: readonly string[]; readonly hashes: readonly string[] } {
  const codes = newRecoveryCodes();
  return { codes, hashes: codes.map(recoveryCodeHash) };
}

/**
 * The time step a code belongs to, within the drift window of `timestamp`, or undefined.
 * Pure: the secret in base32, the clock in milliseconds.
 */
export function matchingStep(secret: string, code: string, timestamp: number): number | undefined {
  const token = code.replace(/\s/g, '');
  if (!SIX_DIGITS.test(token)) return undefined;
  const totp = new TOTP({ secret: Secret.fromBase32(secret), digits: TOTP_DIGITS, period: TOTP_PERIOD_SECONDS, algorithm: 'SHA1' });
  const delta = totp.validate({ token, timestamp, window: TOTP_WINDOW });
  if (delta === null) return undefined;
  return totp.counter({ timestamp }) + delta;
}

export function createSecondFactors(deps: {
  store: SecondFactorStore;
  sealer: Sealer;
  /** The name authenticator apps show for the account (the issuer's host). */
  issuerLabel: string;
  /** Milliseconds since the epoch; injected for tests. */
  now?: () => number;
}): SecondFactors {
  const { store, sealer } = deps;
  const now = deps.now ?? Date.now;

  /** The secret of a sealed enrolment, if it is this account's, this sign-in's and unexpired. */
  function openEnrolment(sealed: string, accountId: string, binding: string): string | undefined {
    let parsed;
    try {
      parsed = sealedEnrolmentSchema.safeParse(JSON.parse(sealer.open(sealed)));
    } catch {
      return undefined; // not sealed by us, or tampered with
    }
    if (!parsed.success) return undefined;
    const { account, binding: boundTo, secret, issuedAt } = parsed.data;
    const age = now() - issuedAt;
    return account === accountId && boundTo === binding && age >= 0 && age < ENROLMENT_TTL_MS ? secret : undefined;
  }

  return {
    async state(accountId) {
      const factors = await store.factors(accountId);
      return factors.totp || factors.passkeys > 0 ? 'confirmed' : 'none';
    },

    factors: (accountId) => store.factors(accountId),


    async startEnrolment(account, binding, kept) {
      if (await store.findTotp(account.id)) return undefined;
      const reused = kept === undefined ? undefined : openEnrolment(kept, account.id, binding);
      const secret = reused ?? new Secret({ size: 20 }).base32;
      const sealed = reused && kept ? kept : sealer.seal(JSON.stringify({ account: account.id, binding, secret, issuedAt: now() }));
      const totp = new TOTP({ issuer: deps.issuerLabel, label: account.email, secret: Secret.fromBase32(secret), digits: TOTP_DIGITS, period: TOTP_PERIOD_SECONDS, algorithm: 'SHA1' });
      return { secret, uri: totp.toString(), sealed, created: reused === undefined };
    },

    async confirmEnrolment(accountId, binding, sealed, code) {
      const secret = sealed === undefined ? undefined : openEnrolment(sealed, accountId, binding);
      if (secret === undefined) return undefined;
      const step = matchingStep(secret, code, now());
      if (step === undefined) return undefined;
      const codes = newRecoveryCodes();
      return (await store.confirmTotp(accountId, sealer.seal(secret), step, codes.map(recoveryCodeHash))) ? codes : undefined;
    },

    async verify(accountId, code) {
      const recovery = normalizeRecoveryCode(code);
      if (recovery) {
        if (!(await store.spendRecoveryCode(accountId, hashRecoveryCode(recovery)))) return { ok: false };
        return { ok: true, method: 'recovery', recoveryCodesLeft: await store.recoveryCodesLeft(accountId) };
      }
      const row = await store.findTotp(accountId);
      if (!row) return { ok: false };
      if (row.failedCodes >= MAX_FAILED_CODES) return { ok: false, locked: 'already' };
      const step = matchingStep(sealer.open(row.secretSealed), code, now());
      if (step !== undefined && (await store.spendStep(accountId, step, MAX_FAILED_CODES))) return { ok: true, method: 'otp' };
      // A wrong code, or a right one already spent (a replay): counted either way.
      const failed = await store.countFailedCode(accountId);
      return failed === MAX_FAILED_CODES ? { ok: false, locked: 'now' } : failed > MAX_FAILED_CODES ? { ok: false, locked: 'already' } : { ok: false };
    },

    removeAuthenticator: (accountId) => store.removeTotp(accountId),

    async renewRecoveryCodes(accountId) {
      const codes = newRecoveryCodes();
      return (await store.replaceRecoveryCodes(accountId, codes.map(recoveryCodeHash))) ? codes : undefined;
    },

    reset: (accountId) => store.removeAll(accountId),

    mailboxProofs: createMailboxProofs({ sealer, now }),
  };
}
