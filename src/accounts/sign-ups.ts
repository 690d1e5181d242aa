import { nameSchema } from '../clients/index.ts';
import { toValidationError } from '../errors.ts';
import type { AccountRecord } from './account-store.ts';
import type { AccountService } from './account-service.ts';
import { hashLinkToken, isLinkToken, newLinkToken } from './link-token.ts';
import { rolesSchema } from './account-input.ts';
import { normalizeEmail } from './normalize-email.ts';
import type { PasswordHasher } from './password-hasher.ts';
import { newPasswordProblem, type PasswordProblem } from './password-policy.ts';
import type { Invitation, SignUpLink, SignUpStore } from './sign-up-store.ts';

// Sign-up (REGISTRATION=invite|open): people make their own accounts. Rules:
// - the address is proved before anything exists: a request only mails a link, and the
//   account is made when that link is opened and a name and password are chosen through it.
//   So no account exists for an address whose mailbox nobody proved (no "pre-hijacking":
//   someone signing up with another person's address and a password of their own), and
//   `email_verified` is true for every account made this way;
// - a request for an address that has an account mails its owner that it has one (and how to
//   reset the password) instead of a link: neither the page nor its time tells the two apart
//   (the pages do the work in the background, as for resets);
// - tokens are 256 random bits; only their SHA-256 is stored; a link works once, until its
//   lifetime ends; making the account spends every other open link to the same address;
// - invitations (minted by an operator, `portcullis users invite`) may name one address and
//   give roles; one invitation makes one account, spent in the same transaction;
// - the password is checked by the policy of resets (length, not guessable, not the address or
//   the name), up to MAX_REFUSALS a link, as for resets; a link that can never make an
//   account (the address has one now, its invitation was spent, sign-up became invite-only)
//   is spent at its first refusal.

/** Refused passwords or names that spend a link (each check costs CPU). */
export const MAX_REFUSALS = 10;


export type SignUpRequest =
  /** A link to mail to the address (the token, never stored nor logged). */
  | { readonly kind: 'link'; readonly email: string; readonly token: string }
  /** The address has an account: its owner is told, no link is made. */
  | { readonly kind: 'existing'; readonly account: AccountRecord }
  /** The invitation is no longer usable (spent or expired since the page checked it). */
  | { readonly kind: 'refused' };

export type InvitationCheck =
  | { readonly ok: true; readonly invitation: Invitation }
  | { readonly ok: false; readonly reason: 'invalid_invitation' | 'other_address' };

export type SignUpOutcome =
  | { readonly ok: true; readonly account: AccountRecord; readonly interactionUid: string | null; readonly invited: boolean }
  | { readonly ok: false; readonly reason: 'invalid_link' | 'invitation_spent' | 'taken' | 'name' | PasswordProblem };

export interface SignUps {
  /** Mints an invitation; its token (for the link) is returned once and stored only as a hash. */
  invite(input: { email?: string | undefined; roles?: readonly string[] | undefined; ttlSeconds: number; createdBy: string }): Promise<{ token: string; invitation: Invitation }>;
  /** Whether an invitation may be used, by this address when one is given. */
  checkInvitation(token: string, email?: string): Promise<InvitationCheck>;
  /** A request to sign up with `email` (already checked to be an address): a link, or the owner told. */
  request(email: string, options?: { invitationToken?: string | undefined; interactionUid?: string | undefined }): Promise<SignUpRequest>;
  /** The address a link is for, while it works (the page shows the form, or says it does not). */
  usableLink(token: string): Promise<SignUpLink | undefined>;
  /**
   * Makes the account through the link, spending it. `requireInvitation` (REGISTRATION=invite):
   * a link mailed while sign-up was open, without an invitation, makes nothing.
   */
  complete(token: string, input: { name: string; password: string }, options?: { requireInvitation?: boolean }): Promise<SignUpOutcome>;
}

export function createSignUps(deps: { store: SignUpStore; accounts: AccountService; hasher: PasswordHasher; linkTtlSeconds: number }): SignUps {
  const { store, accounts } = deps;

  const findLink = (token: string) => (isLinkToken(token) ? store.findLink(hashLinkToken(token)) : Promise.resolve(undefined));
  const findInvitation = (token: string) => (isLinkToken(token) ? store.findInvitation(hashLinkToken(token)) : Promise.resolve(undefined));

  async function checkInvitation(token: string, email?: string): Promise<InvitationCheck> {
    const invitation = await findInvitation(token);
    if (!invitation) return { ok: false, reason: 'invalid_invitation' };
    if (email !== undefined && invitation.email !== null && invitation.email !== normalizeEmail(email)) return { ok: false, reason: 'other_address' };
    return { ok: true, invitation };
  }

  /** A refusal through the link: spends it at MAX_REFUSALS (then the page says the link is dead). */
  async function refused(token: string, reason: 'name' | PasswordProblem): Promise<SignUpOutcome> {
    if (await store.refuse(hashLinkToken(token), MAX_REFUSALS)) return { ok: false, reason: 'invalid_link' };
    return { ok: false, reason };
  }

  /** Spends a link that can never make an account, with the reason it cannot. */
  async function spent(token: string, reason: 'invalid_link' | 'invitation_spent' | 'taken'): Promise<SignUpOutcome> {
    await store.spend(hashLinkToken(token));
    return { ok: false, reason };
  }

  return {
    async invite({ email, roles = [], ttlSeconds, createdBy }) {
      const bound = email === undefined ? null : normalizeEmail(email);
      const parsed = rolesSchema.safeParse([...roles]);
      if (!parsed.success) throw toValidationError(parsed.error);
      const parsedRoles = parsed.data;
      const token = newLinkToken();
      const invitation = await store.createInvitation({ tokenHash: hashLinkToken(token), email: bound, roles: parsedRoles, ttlSeconds, createdBy });
      return { token, invitation };
    },

    checkInvitation,

    async request(rawEmail, options = {}) {
      const email = normalizeEmail(rawEmail);
      let invitationHash: string | null = null;
      if (options.invitationToken !== undefined) {
        if (!(await checkInvitation(options.invitationToken, email)).ok) return { kind: 'refused' };
        invitationHash = hashLinkToken(options.invitationToken);
      }
      const account = await accounts.findByIdOrEmail(email);
      if (account) return { kind: 'existing', account };
      const token = newLinkToken();
      await store.createLink({ tokenHash: hashLinkToken(token), email, invitationHash, ttlSeconds: deps.linkTtlSeconds, interactionUid: options.interactionUid });
      return { kind: 'link', email, token };
    },

    usableLink: findLink,

    async complete(token, input, options = {}) {
      // The link first: a person with a dead link learns that before choosing a password.
      const link = await findLink(token);
      if (!link) return { ok: false, reason: 'invalid_link' };
      if (options.requireInvitation && link.invitationHash === null) return spent(token, 'invalid_link');
      const name = nameSchema.safeParse(input.name);
      if (!name.success) return refused(token, 'name');
      const problem = await newPasswordProblem(input.password, [link.email, name.data]);
      if (problem) return refused(token, problem);
      const passwordHash = await deps.hasher.hash(input.password);
      const made = await store.complete(hashLinkToken(token), { name: name.data, passwordHash });
      // The transaction rolled back: a link that can never make an account is spent, so it
      // costs no more hashing.
      if (!made.ok) return made.reason === 'invalid_link' ? made : spent(token, made.reason);
      return { ok: true, account: made.account, interactionUid: made.link.interactionUid, invited: made.link.invitationHash !== null };
    },
  };
}
