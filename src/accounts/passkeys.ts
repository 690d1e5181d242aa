import { createHash } from 'node:crypto';

import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { z } from 'zod';

import { nameSchema } from '../clients/index.ts';
import type { ChallengePurpose, PasskeyRow, PasskeyStore } from './passkey-store.ts';
import { newRecoveryCodeSet } from './second-factors.ts';

// Passkeys (WebAuthn Level 3), with @simplewebauthn/server doing the ceremony's checks
// (origin, RP ID hash, signature, flags, counter). Rules on top:
// - the relying party is the issuer: its host is the RP ID and its origin the only origin
//   accepted. WebAuthn refuses an IP address as RP ID, so an issuer on one has no passkeys
//   (`available`);
// - every challenge is made here, stored (hashed) for one purpose (register, second factor,
//   sign-in), one binding (the sign-in's interaction, or the account page session) and one
//   account (none for a passwordless sign-in), for five minutes, and spent by the one
//   answer that verifies: an assertion cannot be replayed, answered in another sign-in or
//   another page session, or used for another purpose;
// - as a second factor only the account's own credentials count (a valid assertion of
//   another account's passkey is refused); a passwordless sign-in needs a discoverable
//   credential and user verification (a PIN or biometric on the device: two factors), and
//   the user handle, when sent, must be the credential's account;
// - a counter that does not go up is a cloned authenticator: refused (synced passkeys keep
//   none: 0 stays 0);
// - a credential id is at most 1023 bytes, as WebAuthn says: a longer one is refused, never
//   stored (it would fit no form that removes it);
// - amr names the key as the authenticator reports it (its backup flags; no attestation is
//   asked, so this is its word): `swk` for a passkey that is backed up (synced: a key held in
//   software), `hwk` for one bound to its device (RFC 8176).

/** How long a challenge can be answered: a person finding their security key, not longer. */
const CHALLENGE_TTL_MS = 5 * 60 * 1000;
export const MAX_PASSKEY_NAME = 64;
/** A passkey's name as the person gives it: shown on their page and in mail, so no spoofing characters. */
export const passkeyNameSchema = nameSchema.pipe(z.string().max(MAX_PASSKEY_NAME, `must be at most ${MAX_PASSKEY_NAME} characters`));
/** The most passkeys an account may hold: enough for every device a person owns. */
export const MAX_PASSKEYS = 20;
/** WebAuthn §5.1 (id): a credential id is at most 1023 bytes; 1364 in base64url. */
const MAX_CREDENTIAL_ID_BYTES = 1023;

export interface PasskeySettings {
  /** The issuer URL: its host is the RP ID, its origin the expected origin. */
  readonly issuer: string;
  /** Passwordless sign-in with a discoverable passkey (PASSKEY_SIGN_IN). */
  readonly signIn: boolean;
}

export interface PasskeyView {
  readonly id: string;
  readonly name: string;
  readonly synced: boolean;
  readonly createdAt: Date;
  readonly lastUsedAt: Date | null;
}

export type PasskeyMethod = 'hwk' | 'swk';

export type RegisterOutcome =
  | { readonly ok: true; readonly passkey: PasskeyView; readonly recoveryCodes?: readonly string[] }
  | { readonly ok: false; readonly reason: 'invalid' | 'taken' | 'too_many' };
export type AuthenticateOutcome = { readonly ok: true; readonly accountId: string; readonly passkeyId: string; readonly method: PasskeyMethod } | { readonly ok: false; readonly reason: 'invalid' | 'unknown' | 'replayed' };

export interface Passkeys {
  /** Whether passkeys work here at all (an RP ID that is a host name). */
  readonly available: boolean;
  /** Whether a passkey alone signs in (PASSKEY_SIGN_IN, where available). */
  readonly signIn: boolean;
  list(accountId: string): Promise<readonly PasskeyView[]>;
  /**
   * Options for adding a passkey to the account, from the page session `binding`: with the
   * challenge `reuse` while it is open (a retry), else a new one.
   */
  registrationOptions(account: { readonly id: string; readonly email: string; readonly name?: string | null }, binding: string, reuse?: string): Promise<PublicKeyCredentialCreationOptionsJSON>;
  /** Whether a registration challenge of this page session is still open (unspent, unexpired). */
  registrationOpen(accountId: string, binding: string, challenge: string): Promise<boolean>;
  /**
   * Verifies and stores the browser's answer to the options of `challenge` (the one the page
   * showed): the passkey, and for the account's first factor ten recovery codes, shown once.
   */
  register(accountId: string, binding: string, challenge: string, response: string, name: string): Promise<RegisterOutcome>;
  /**
   * Options for a sign-in `binding`: for the account's own passkeys (a second factor), or,
   * without an account, for any discoverable one (passwordless).
   */
  authenticationOptions(binding: string, accountId?: string): Promise<PublicKeyCredentialRequestOptionsJSON>;
  /** Verifies the browser's answer: the account it proves (the given one, for a second factor). */
  authenticate(binding: string, response: string, accountId?: string): Promise<AuthenticateOutcome>;
  remove(accountId: string, id: string): Promise<boolean>;
}

// The browser's answer, as @simplewebauthn/browser sends it; bounded before anything parses it.
const b64url = z.string().regex(/^[A-Za-z0-9_-]*$/).max(16_384);
const credentialId = b64url.max(Math.ceil((MAX_CREDENTIAL_ID_BYTES * 4) / 3));
const registrationSchema = z.object({
  id: credentialId,
  rawId: credentialId,
  type: z.literal('public-key'),
  response: z.looseObject({ clientDataJSON: b64url, attestationObject: b64url, transports: z.array(z.string().max(32)).max(8).optional() }),
  clientExtensionResults: z.record(z.string(), z.unknown()).default({}),
  authenticatorAttachment: z.string().max(32).optional(),
});
const authenticationSchema = z.object({
  id: credentialId,
  rawId: credentialId,
  type: z.literal('public-key'),
  response: z.looseObject({ clientDataJSON: b64url, authenticatorData: b64url, signature: b64url, userHandle: b64url.optional() }),
  clientExtensionResults: z.record(z.string(), z.unknown()).default({}),
  authenticatorAttachment: z.string().max(32).optional(),
});

const hashChallenge = (challenge: string) => createHash('sha256').update(challenge).digest('base64url');

function parseAnswer<T extends z.ZodTypeAny>(schema: T, text: string): z.infer<T> | undefined {
  if (text.length > 65_536) return undefined;
  try {
    const parsed = schema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** The challenge inside a client data JSON (base64url), or undefined. */
function challengeOf(clientDataJSON: string): string | undefined {
  try {
    const parsed = z.object({ challenge: b64url }).safeParse(JSON.parse(Buffer.from(clientDataJSON, 'base64url').toString('utf8')));
    return parsed.success ? parsed.data.challenge : undefined;
  } catch {
    return undefined;
  }
}

/** An account id (a UUID) as the 16 bytes of its user handle. */
const userHandleOf = (accountId: string) => new Uint8Array(Buffer.from(accountId.replaceAll('-', ''), 'hex'));

const isIpAddress = (host: string) => /^[\d.]+$/.test(host) || host.includes(':') || host.startsWith('[');

const view = (row: PasskeyRow): PasskeyView => ({ id: row.id, name: row.name, synced: row.backedUp, createdAt: row.createdAt, lastUsedAt: row.lastUsedAt });

export function createPasskeys(deps: { store: PasskeyStore; settings: PasskeySettings; now?: () => number }): Passkeys {
  const { store } = deps;
  const now = deps.now ?? Date.now;
  const issuer = new URL(deps.settings.issuer);
  const rpID = issuer.hostname;
  const origin = issuer.origin;
  const available = !isIpAddress(rpID);

  async function keepChallenge(challenge: string, purpose: ChallengePurpose, binding: string, accountId: string | undefined) {
    await store.saveChallenge({ challengeHash: hashChallenge(challenge), purpose, binding, accountId, expiresAt: new Date(now() + CHALLENGE_TTL_MS) });
  }

  /**
   * Whether the answer's challenge is open for this purpose, binding and account; it is spent
   * only once the answer verified. Asked here, before the library's checks, so a database
   * failure is an error (a 503 by the outage handling), never a "wrong answer" counted
   * against the person.
   */
  const challengeOpen = (challenge: string, purpose: ChallengePurpose, binding: string, accountId: string | undefined) =>
    store.challengeOpen(hashChallenge(challenge), purpose, binding, accountId);

  /** The library's verdict on an answer; anything it throws on (malformed, wrong origin, bad signature) is a refusal. */
  async function verdict<T extends { verified: boolean }>(verify: () => Promise<T>): Promise<T | undefined> {
    try {
      const result = await verify();
      return result.verified ? result : undefined;
    } catch {
      return undefined;
    }
  }

  return {
    available,
    signIn: available && deps.settings.signIn,

    list: async (accountId) => (await store.list(accountId)).map(view),

    async registrationOptions(account, binding, reuse) {
      const existing = await store.list(account.id);
      const kept = reuse !== undefined && (await challengeOpen(reuse, 'register', binding, account.id));
      const options = await generateRegistrationOptions({
        rpName: issuer.host,
        rpID,
        userName: account.email,
        userDisplayName: account.name ?? account.email,
        userID: userHandleOf(account.id),
        attestationType: 'none',
        // A device it already holds is not registered twice.
        excludeCredentials: existing.map((row) => ({ id: row.id, transports: [...row.transports] })),
        // Discoverable where the authenticator can (passwordless sign-in needs it); verified where it can.
        authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
        timeout: CHALLENGE_TTL_MS,
        ...(kept && { challenge: new Uint8Array(Buffer.from(reuse, 'base64url')) }),
      });
      if (!kept) await keepChallenge(options.challenge, 'register', binding, account.id);
      return options;
    },

    registrationOpen: (accountId, binding, challenge) => challengeOpen(challenge, 'register', binding, accountId),

    async register(accountId, binding, shown, text, name) {
      const answer = parseAnswer(registrationSchema, text) as RegistrationResponseJSON | undefined;
      const challenge = answer && challengeOf(answer.response.clientDataJSON);
      // Only an answer to the challenge this page showed (its step names it).
      if (!answer || !challenge || challenge !== shown || !(await challengeOpen(challenge, 'register', binding, accountId))) return { ok: false, reason: 'invalid' };
      const verified = await verdict(() => verifyRegistrationResponse({ response: answer, expectedChallenge: challenge, expectedOrigin: origin, expectedRPID: rpID, requireUserVerification: false }));
      if (!verified?.registrationInfo) return { ok: false, reason: 'invalid' };
      const { credential, credentialBackedUp } = verified.registrationInfo;
      if (Buffer.from(credential.id, 'base64url').length > MAX_CREDENTIAL_ID_BYTES) return { ok: false, reason: 'invalid' };
      if (!(await store.spendChallenge(hashChallenge(challenge), 'register', binding, accountId))) return { ok: false, reason: 'invalid' };
      const row = { id: credential.id, accountId, publicKey: credential.publicKey, counter: credential.counter, transports: credential.transports ?? [], backedUp: credentialBackedUp, name };
      const codes = newRecoveryCodeSet();
      const stored = await store.insert(row, MAX_PASSKEYS, codes.hashes);
      if (!stored.added) return { ok: false, reason: stored.reason };
      const passkey = { id: row.id, name, synced: row.backedUp, createdAt: new Date(now()), lastUsedAt: null };
      return { ok: true, passkey, ...(stored.recoveryCodes && { recoveryCodes: codes.codes }) };
    },

    async authenticationOptions(binding, accountId) {
      const own = accountId === undefined ? [] : await store.list(accountId);
      const options = await generateAuthenticationOptions({
        rpID,
        allowCredentials: own.map((row) => ({ id: row.id, transports: [...row.transports] as never })),
        userVerification: accountId === undefined ? 'required' : 'preferred',
        timeout: CHALLENGE_TTL_MS,
      });
      await keepChallenge(options.challenge, accountId === undefined ? 'sign-in' : 'second-factor', binding, accountId);
      return options;
    },

    async authenticate(binding, text, accountId) {
      const purpose: ChallengePurpose = accountId === undefined ? 'sign-in' : 'second-factor';
      const answer = parseAnswer(authenticationSchema, text) as AuthenticationResponseJSON | undefined;
      const challenge = answer && challengeOf(answer.response.clientDataJSON);
      if (!answer || !challenge) return { ok: false, reason: 'invalid' };
      const row = await store.find(answer.id);
      // Another account's passkey proves nothing about this one.
      if (!row || (accountId !== undefined && row.accountId !== accountId)) return { ok: false, reason: 'unknown' };
      const handle = answer.response.userHandle;
      if (accountId === undefined && handle !== undefined && handle !== Buffer.from(userHandleOf(row.accountId)).toString('base64url')) return { ok: false, reason: 'unknown' };
      if (!(await challengeOpen(challenge, purpose, binding, accountId))) return { ok: false, reason: 'invalid' };
      const verified = await verdict(() =>
        verifyAuthenticationResponse({
          response: answer,
          expectedChallenge: challenge,
          expectedOrigin: origin,
          expectedRPID: rpID,
          credential: { id: row.id, publicKey: new Uint8Array(row.publicKey), counter: row.counter, transports: [...row.transports] as never },
          requireUserVerification: accountId === undefined,
        }),
      );
      if (!verified) return { ok: false, reason: 'invalid' };
      const info = verified.authenticationInfo;
      // The challenge first (a replay of this very answer), then the counter (a clone's answer).
      if (!(await store.spendChallenge(hashChallenge(challenge), purpose, binding, accountId))) return { ok: false, reason: 'replayed' };
      if (!(await store.recordUse(row.id, row.accountId, info.newCounter, info.credentialBackedUp))) return { ok: false, reason: 'replayed' };
      return { ok: true, accountId: row.accountId, passkeyId: row.id, method: info.credentialBackedUp ? 'swk' : 'hwk' };
    },

    remove: (accountId, id) => store.remove(accountId, id),
  };
}
