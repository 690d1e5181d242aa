import type { PrismaClient } from '../db/index.ts';
import { withTranslatedErrors } from '../db/index.ts';
import { ConflictError } from '../errors.ts';
import { hashLinkToken, isLinkToken, newLinkToken } from './link-token.ts';
import { lockAccount } from './lock-account.ts';

// A change of a person's address, asked for on the account page (which checked their
// password and a code mailed to the current address: account-page/email-change.ts). Rules:
// - the new address proves itself: the change is made only by the link mailed to it
//   (256-bit token, only its SHA-256 stored, single use, EMAIL_CHANGE_TTL_SECONDS: an hour);
// - one open change per account: asking again spends the earlier links;
// - only the account that asked can use its link (the page checks that it is signed in);
// - request and confirm lock the account's row first, then its links: two at once of one
//   account wait in turn (no second open link, no deadlock between two confirms);
// - made in one transaction: the link spent, the address changed and verified, every other
//   open change and every password reset link of the account spent (they went to the old
//   address, which holds no power over the account any more);
// - refused, and the link spent, when the address has an account by now or the account is
//   disabled; nothing is half-written.

export const EMAIL_CHANGE_TTL_SECONDS = 3600;

export type EmailChangeOutcome =
  | { readonly ok: true; readonly accountId: string; readonly previousEmail: string; readonly email: string }
  | { readonly ok: false; readonly reason: 'invalid_link' | 'taken' };

export interface EmailChanges {
  /** A link token for `email` (already normalised), replacing the account's open ones. */
  request(accountId: string, email: string): Promise<string>;
  /** The account and new address of an open link, to show before it is used; undefined for any other token. */
  peek(token: string): Promise<{ readonly accountId: string; readonly email: string } | undefined>;
  /** Makes the change the link stands for, when it is `accountId`'s. */
  confirm(token: string, accountId: string): Promise<EmailChangeOutcome>;
}

class Refusal extends Error {
  constructor(readonly reason: 'invalid_link' | 'taken') {
    super(reason);
  }
}

export function createEmailChanges(prisma: PrismaClient, ttlSeconds = EMAIL_CHANGE_TTL_SECONDS): EmailChanges {
  const db = <T>(work: () => Promise<T>) => withTranslatedErrors('email change', work);
  return {
    request: (accountId, email) =>
      db(async () => {
        const token = newLinkToken();
        await prisma.$transaction(async (tx) => {
          await lockAccount(tx, accountId);
          await tx.emailChange.updateMany({ where: { accountId, usedAt: null }, data: { usedAt: new Date() } });
          await tx.emailChange.create({ data: { tokenHash: hashLinkToken(token), accountId, email, expiresAt: new Date(Date.now() + ttlSeconds * 1000) } });
        });
        return token;
      }),

    peek: (token) =>
      db(async () => {
        if (!isLinkToken(token)) return undefined;
        const row = await prisma.emailChange.findFirst({ where: { tokenHash: hashLinkToken(token), usedAt: null, expiresAt: { gt: new Date() } }, select: { accountId: true, email: true } });
        return row ?? undefined;
      }),

    async confirm(token, accountId) {
      if (!isLinkToken(token)) return { ok: false, reason: 'invalid_link' };
      const tokenHash = hashLinkToken(token);
      try {
        return await db(() =>
          prisma.$transaction(async (tx): Promise<EmailChangeOutcome> => {
            await lockAccount(tx, accountId);
            const spent = await tx.emailChange.updateMany({ where: { tokenHash, accountId, usedAt: null, expiresAt: { gt: new Date() } }, data: { usedAt: new Date() } });
            if (spent.count !== 1) throw new Refusal('invalid_link');
            const change = await tx.emailChange.findUniqueOrThrow({ where: { tokenHash } });
            const account = await tx.account.findUnique({ where: { id: change.accountId } });
            if (!account || account.disabled) throw new Refusal('invalid_link');
            const taken = await tx.account.findUnique({ where: { email: change.email }, select: { id: true } });
            if (taken) throw new Refusal(taken.id === account.id ? 'invalid_link' : 'taken');
            await tx.account.update({ where: { id: account.id }, data: { email: change.email, emailVerified: true } });
            await tx.emailChange.updateMany({ where: { accountId: account.id, usedAt: null }, data: { usedAt: new Date() } });
            await tx.passwordReset.updateMany({ where: { accountId: account.id, usedAt: null }, data: { usedAt: new Date() } });
            return { ok: true, accountId: account.id, previousEmail: account.email, email: change.email };
          }),
        );
      } catch (error) {
        // Another account took the address between the check and the write (two changes to
        // one address at once): the unique index refused this one.
        const refusal = error instanceof ConflictError ? new Refusal('taken') : error;
        if (!(refusal instanceof Refusal)) throw error;
        // The refusal rolled the transaction back: the link is spent on its own.
        await db(() => prisma.emailChange.updateMany({ where: { tokenHash, usedAt: null }, data: { usedAt: new Date() } }));
        return { ok: false, reason: refusal.reason };
      }
    },
  };
}
