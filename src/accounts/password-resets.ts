import type { AccountRecord } from './account-store.ts';
import { hashLinkToken, isLinkToken, newLinkToken } from './link-token.ts';
import type { AccountService } from './account-service.ts';
import { normalizeEmail } from './normalize-email.ts';
import type { PasswordResetStore } from './password-reset-store.ts';
import { newPasswordProblem, type PasswordProblem } from './password-policy.ts';

// Password reset by a link sent to the account's address. Rules:
// - a request does the same work whether or not the address names an account (a token is
//   made and hashed either way; the mail goes out in the background), so neither the
//   answer nor its time tells who has an account;
// - only enabled accounts that have a password get a link;
// - the token is 256 random bits; only its SHA-256 is stored; a link works once, until its
//   lifetime ends, and a reset spends every other open link of the account;
// - the new password is checked (length, and not guessable: password-policy.ts) before the
//   link is spent, so a refused password leaves the link working, up to MAX_REFUSALS: the
//   strength check costs CPU, and a link is no licence to spend it without end;
// - a reset proves the mailbox: the address is verified from then on (`email_verified`);
// - after a reset: optionally every grant, token and browser session of the account ends,
//   and the login throttle's blocks and waits for the account are lifted (a locked-out
//   person can always get back in this way).

export interface ResetRequest {
  /** The account the address names, when a link was made for it. */
  readonly account?: AccountRecord;
  /** The token for the link; only with an account. Never stored, never logged. */
  readonly token?: string;
}

export type ResetOutcome =
  | {
      readonly ok: true;
      readonly account: AccountRecord;
      readonly interactionUid: string | null;
      /** What ended with the reset (when PASSWORD_RESET_ENDS_SESSIONS). */
      readonly ended: { readonly grants: number; readonly tokens: number } | undefined;
      /** The password changed, but ending the sessions or lifting the login blocks failed (the caller reports it). */
      readonly endFailed?: unknown;
    }
  | { readonly ok: false; readonly reason: 'invalid_link' }
  | { readonly ok: false; readonly reason: PasswordProblem };

export interface PasswordResets {
  request(email: string, options?: { interactionUid?: string | undefined }): Promise<ResetRequest>;
  /** Whether the token names a link that still works (the page shows the form, or says it does not). */
  isUsable(token: string): Promise<boolean>;
  /** Sets the new password through the link, spending it. */
  complete(token: string, password: string): Promise<ResetOutcome>;
}

/** Where the login throttle's releases go (db/throttle-releases.ts), as `portcullis users unblock` leaves them. */
export interface ThrottleReleaser {
  add(release: { readonly subject?: string }): Promise<void>;
}

/** Refused new passwords that spend a link (the page says a link can be spent by too many tries). */
export const MAX_REFUSALS = 10;


export function createPasswordResets(deps: {
  store: PasswordResetStore;
  accounts: AccountService;
  releases: ThrottleReleaser;
  /** Seconds a link works. */
  ttlSeconds: number;
  /** End every grant, token and session of the account after a reset. */
  endSessions: boolean;
}): PasswordResets {
  const { store, accounts } = deps;

  async function usableLink(token: string) {
    if (!isLinkToken(token)) return undefined;
    return store.find(hashLinkToken(token));
  }

  return {
    async request(email, options = {}) {
      const token = newLinkToken();
      const tokenHash = hashLinkToken(token);
      let normalized: string;
      try {
        normalized = normalizeEmail(email);
      } catch {
        return {};
      }
      const account = await accounts.findByIdOrEmail(normalized);
      if (!account || account.disabled || account.passwordHash === null) return {};
      await store.create({ tokenHash, accountId: account.id, ttlSeconds: deps.ttlSeconds, interactionUid: options.interactionUid });
      return { account, token };
    },

    async isUsable(token) {
      const link = await usableLink(token);
      if (!link) return false;
      const account = await accounts.findById(link.accountId);
      return Boolean(account && !account.disabled);
    },

    async complete(token, password) {
      // The link first: a person with a dead link learns that before choosing a password.
      const open = await usableLink(token);
      const owner = open && (await accounts.findById(open.accountId));
      if (!owner || owner.disabled) return { ok: false, reason: 'invalid_link' };
      const problem = await newPasswordProblem(password, [owner.email, owner.name]);
      if (problem) {
        // The refusal that spends the link says so now, not at the next try.
        if (await store.refuse(hashLinkToken(token), MAX_REFUSALS)) return { ok: false, reason: 'invalid_link' };
        return { ok: false, reason: problem };
      }
      const link = await store.consume(hashLinkToken(token));
      const account = link && (await accounts.findById(link.accountId));
      if (!link || !account || account.disabled) return { ok: false, reason: 'invalid_link' };
      // The person acts, through their link: their account is the actor in the audit trail.
      const byThePerson = { actor: account.id };
      let updated = await accounts.setPassword(account.id, password, byThePerson);
      // The link was opened from the account's mailbox: its address is proved.
      if (!updated.emailVerified) updated = await accounts.update(account.id, { emailVerified: true }, byThePerson);
      await store.spendAll(account.id);
      // The password has changed: nothing after this may turn the answer into a 500, which
      // would hide that the sessions (perhaps an intruder's) did not end. A failure is
      // returned, and audited and logged by the caller.
      let ended: { grants: number; tokens: number } | undefined;
      try {
        if (deps.endSessions) {
          const { grants, tokens } = await accounts.revokeTokens(account.id, byThePerson);
          ended = { grants, tokens };
        }
        await deps.releases.add({ subject: account.email });
      } catch (error) {
        return { ok: true, account: updated, interactionUid: link.interactionUid, ended, endFailed: error };
      }
      return { ok: true, account: updated, interactionUid: link.interactionUid, ended };
    },
  };
}
