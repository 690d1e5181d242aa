import { randomInt, timingSafeEqual } from 'node:crypto';

import { z } from 'zod';

import type { Sealer } from '../crypto/index.ts';

// Proof that whoever sets up a first authenticator, or moves the account to another address,
// reads the account's mail. Without it, a password alone would be enough to bind an
// attacker's authenticator where a second factor is required of a person who has none yet
// (trust on first use), or to move the account's mail, resets included, elsewhere. Rules:
// - a code of ten digits (10^10: at the login throttle's pace of about one try a minute an
//   account, never within reach), mailed to the account's address;
// - like an enrolment secret, it is not stored: it is handed back sealed, bound to the
//   account and to what asked (`binding`: a sign-in's interaction uid, kept by that sign-in,
//   interactions/pending-login.ts; or an account page session's grant, for setting up an
//   authenticator there, or with `:address` for a change of address), and works for ten
//   minutes;
// - a sealed proof opens only as a proof: an enrolment secret sealed by the same key has
//   another shape and is refused.

export const MAILBOX_CODE_DIGITS = 10;
/** How long a mailed code works: the pending sign-in's own ten minutes. */
export const MAILBOX_CODE_TTL_MS = 10 * 60 * 1000;

const sealedProofSchema = z.object({ purpose: z.literal('mailbox'), account: z.string(), binding: z.string(), code: z.string(), issuedAt: z.number() });

export interface MailboxProof {
  /** The code to mail, in groups of five digits. Never logged. */
  readonly code: string;
  /** The code sealed with its account, binding and time: kept by the sign-in, never stored. */
  readonly sealed: string;
}

export interface MailboxProofs {
  issue(accountId: string, binding: string): MailboxProof;
  /** Whether `code` (spaces and dashes ignored) is the one sealed for this account and sign-in, unexpired. */
  check(accountId: string, binding: string, sealed: string | undefined, code: string): boolean;
}

/** Digits only: spaces and dashes as people copy them out of a mail. */
const normalize = (code: string) => code.replace(/[\s-]/g, '');

export function createMailboxProofs(deps: { sealer: Sealer; now: () => number }): MailboxProofs {
  const { sealer, now } = deps;
  return {
    issue(accountId, binding) {
      const digits = Array.from({ length: MAILBOX_CODE_DIGITS }, () => randomInt(10)).join('');
      const sealed = sealer.seal(JSON.stringify({ purpose: 'mailbox', account: accountId, binding, code: digits, issuedAt: now() }));
      return { code: digits.match(/.{1,5}/g)!.join(' '), sealed };
    },

    check(accountId, binding, sealed, code) {
      if (sealed === undefined) return false;
      let parsed;
      try {
        parsed = sealedProofSchema.safeParse(JSON.parse(sealer.open(sealed)));
      } catch {
        return false; // not sealed by us, or tampered with
      }
      if (!parsed.success) return false;
      const proof = parsed.data;
      const age = now() - proof.issuedAt;
      if (proof.account !== accountId || proof.binding !== binding || age < 0 || age >= MAILBOX_CODE_TTL_MS) return false;
      const typed = Buffer.from(normalize(code));
      const expected = Buffer.from(proof.code);
      return typed.length === expected.length && timingSafeEqual(typed, expected);
    },
  };
}
