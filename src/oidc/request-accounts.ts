import type { IncomingMessage } from 'node:http';

import type { AccountRecord, AccountService } from '../accounts/index.ts';

/**
 * Accounts as the engine's hooks read them: once per request. One token request asks for
 * its person several times (findAccount for the grant, the resource policy for the roles,
 * findAccount again for the ID token's claims); they share one read, keyed by the request's
 * `req` (which every context the engine makes for that request shares) and gone with it.
 * A refresh reads its person along with its token (one round trip for both), and this read
 * is that one. Nothing is kept across requests: a disabled person is refused from their
 * next request on.
 */
export interface RequestAccounts {
  find(ctx: { readonly req?: IncomingMessage } | undefined, accountId: string): Promise<AccountRecord | undefined>;
}

/**
 * `kept`: the person a refresh read along with its token (refresh-rotation.ts keepAccount),
 * null when no such account exists; undefined sends the read to `accounts`.
 */
export function createRequestAccounts(
  accounts: Pick<AccountService, 'findById'>,
  kept: (accountId: string) => AccountRecord | null | undefined = () => undefined,
): RequestAccounts {
  const perRequest = new WeakMap<IncomingMessage, Map<string, Promise<AccountRecord | undefined>>>();
  return {
    find(ctx, accountId) {
      const req = ctx?.req;
      if (!req) return accounts.findById(accountId);
      let reads = perRequest.get(req);
      if (!reads) perRequest.set(req, (reads = new Map<string, Promise<AccountRecord | undefined>>()));
      let account = reads.get(accountId);
      if (!account) {
        const read = kept(accountId);
        account = read === undefined ? accounts.findById(accountId) : Promise.resolve(read ?? undefined);
        reads.set(accountId, account);
      }
      return account;
    },
  };
}
