import { randomUUID } from 'node:crypto';

import type { PrismaClient, Sql } from '../db/index.ts';
import { SIGN_UP_LOCK, withTranslatedErrors } from '../db/index.ts';
import { ConflictError } from '../errors.ts';
import type { AccountRecord } from './account-store.ts';

// Invitations and sign-up links, by the SHA-256 of their tokens (the tokens themselves are
// only in the operator's output and in mail). The database's clock decides expiry.

export interface Invitation {
  /** Only this address (normalised) may sign up with it; null: any. */
  readonly email: string | null;
  readonly roles: readonly string[];
  readonly expiresAt: Date;
}

export interface SignUpLink {
  readonly email: string;
  readonly invitationHash: string | null;
  /** The sign-in the person came from, if any. */
  readonly interactionUid: string | null;
}

export type Completion =
  | { readonly ok: true; readonly account: AccountRecord; readonly link: SignUpLink }
  /** The link is spent, expired or unknown; its invitation was spent meanwhile; the address has an account now. */
  | { readonly ok: false; readonly reason: 'invalid_link' | 'invitation_spent' | 'taken' };

export interface SignUpStore {
  createInvitation(invitation: { tokenHash: string; email: string | null; roles: readonly string[]; ttlSeconds: number; createdBy: string }): Promise<Invitation>;
  /** The invitation, while unused and unexpired. */
  findInvitation(tokenHash: string): Promise<Invitation | undefined>;
  createLink(link: { tokenHash: string; email: string; invitationHash: string | null; ttlSeconds: number; interactionUid?: string | undefined }): Promise<void>;
  /** The link, while unused and unexpired. */
  findLink(tokenHash: string): Promise<SignUpLink | undefined>;
  /** Spends the link (a refusal it can never get past: the address taken, its invitation spent). */
  spend(tokenHash: string): Promise<void>;
  /** Counts a refused password against the open link, spending it at the `limit`-th; true when it is spent now (or was not open). */
  refuse(tokenHash: string, limit: number): Promise<boolean>;
  /**
   * In one transaction: spends the link (exactly one caller), spends its invitation if it has
   * one, makes the account (its address verified: the link proved it), and spends every other
   * open link to that address. Any refusal leaves everything as it was.
   */
  complete(tokenHash: string, account: { name: string; passwordHash: string }): Promise<Completion>;
}

const LINK = `email, invitation_hash AS "invitationHash", interaction_uid AS "interactionUid"`;
const INVITATION = `email, roles, expires_at AS "expiresAt"`;

/** Thrown inside the transaction to roll it back with a reason. */
class Refusal extends Error {
  constructor(readonly reason: 'invalid_link' | 'invitation_spent' | 'taken') {
    super(reason);
  }
}

export function createSignUpStore(prisma: PrismaClient, sql: Sql): SignUpStore {
  return {
    createInvitation: ({ tokenHash, email, roles, ttlSeconds, createdBy }) =>
      withTranslatedErrors('invitation', async () => {
        const { rows } = await sql.query<Invitation>(
          `INSERT INTO invitations (token_hash, email, roles, created_by, expires_at) VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5)) RETURNING ${INVITATION}`,
          [tokenHash, email, roles, createdBy, ttlSeconds],
        );
        return rows[0]!;
      }),
    findInvitation: (tokenHash) =>
      withTranslatedErrors('invitation', async () => {
        const { rows } = await sql.query<Invitation>(`SELECT ${INVITATION} FROM invitations WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()`, [tokenHash]);
        return rows[0];
      }),
    createLink: ({ tokenHash, email, invitationHash, ttlSeconds, interactionUid }) =>
      withTranslatedErrors('sign-up link', async () => {
        await sql.query(
          `INSERT INTO sign_up_links (token_hash, email, invitation_hash, expires_at, interaction_uid) VALUES ($1, $2, $3, now() + make_interval(secs => $4), $5)`,
          [tokenHash, email, invitationHash, ttlSeconds, interactionUid ?? null],
        );
      }),
    findLink: (tokenHash) =>
      withTranslatedErrors('sign-up link', async () => {
        const { rows } = await sql.query<SignUpLink>(`SELECT ${LINK} FROM sign_up_links WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()`, [tokenHash]);
        return rows[0];
      }),
    spend: (tokenHash) =>
      withTranslatedErrors('sign-up link', async () => {
        await sql.query(`UPDATE sign_up_links SET used_at = now() WHERE token_hash = $1 AND used_at IS NULL`, [tokenHash]);
      }),
    refuse: (tokenHash, limit) =>
      withTranslatedErrors('sign-up link', async () => {
        const { rows } = await sql.query<{ spent: boolean }>(
          `UPDATE sign_up_links SET refusals = refusals + 1, used_at = CASE WHEN refusals + 1 >= $2 THEN now() ELSE used_at END
           WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() RETURNING used_at IS NOT NULL AS spent`,
          [tokenHash, limit],
        );
        return rows[0]?.spent ?? true;
      }),
    async complete(tokenHash, { name, passwordHash }) {
      try {
        return await withTranslatedErrors('sign-up', () =>
          prisma.$transaction(async (tx): Promise<Completion> => {
            // One completion per address at a time: two links to one address completed at
            // once would otherwise each lock its own link and wait on the other's (the email's
            // unique index, the other links), a deadlock Postgres answers by killing one.
            // Waiting here, the second finds its link spent by the first.
            await tx.$queryRawUnsafe(
              `SELECT pg_advisory_xact_lock(${SIGN_UP_LOCK}, hashtext(email))::text FROM sign_up_links WHERE token_hash = $1`,
              tokenHash,
            );
            const [link] = await tx.$queryRawUnsafe<SignUpLink[]>(
              `UPDATE sign_up_links SET used_at = now() WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() RETURNING ${LINK}`,
              tokenHash,
            );
            if (!link) throw new Refusal('invalid_link');
            let roles: readonly string[] = [];
            if (link.invitationHash !== null) {
              const [invitation] = await tx.$queryRawUnsafe<{ roles: string[] }[]>(
                `UPDATE invitations SET used_at = now() WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() RETURNING roles`,
                link.invitationHash,
              );
              if (!invitation) throw new Refusal('invitation_spent');
              roles = invitation.roles;
            }
            // The address may have an account by now (an operator, another link): nothing is made then.
            const taken = await tx.account.findUnique({ where: { email: link.email }, select: { id: true } });
            if (taken) throw new Refusal('taken');
            const account = await tx.account.create({ data: { id: randomUUID(), email: link.email, name, passwordHash, emailVerified: true, roles: [...roles] } });
            if (link.invitationHash !== null) await tx.invitation.update({ where: { tokenHash: link.invitationHash }, data: { accountId: account.id } });
            await tx.signUpLink.updateMany({ where: { email: link.email, usedAt: null }, data: { usedAt: new Date() } });
            return { ok: true, account, link };
          }),
        );
      } catch (error) {
        if (error instanceof Refusal) return { ok: false, reason: error.reason };
        // Another link to the same address made its account between our check and our insert.
        if (error instanceof ConflictError) return { ok: false, reason: 'taken' };
        throw error;
      }
    },
  };
}
