import type { EntitlementRefusal } from '../account-api/index.ts';
import type { AccountService } from '../accounts/index.ts';
import type { ClientService } from '../clients/index.ts';
import type { VerifiedAccessToken } from '../oidc/index.ts';
import { ADMIN_ROLE } from './admin-resource.ts';

// An admin token is a snapshot of its subject's authority when it was issued, and lives
// for minutes: long enough for someone whose role was just removed to make a client of
// their own and keep access for good. So every request checks the subject as it is now:
// - a person: the account exists, is enabled and holds the admin role;
// - a client (client credentials): it is still registered, for this API, with every scope
//   the request needs (the registry's cached reads: no database round trip while its
//   change feed is live). A rotated secret ends the client's earlier tokens at the token
//   verifier (the rotation replaces the client's token generation).

const GONE = 'the access token is invalid, expired, revoked or not meant for this API';

export function createEntitlementCheck(deps: { accounts: Pick<AccountService, 'findById'>; clients: Pick<ClientService, 'find'>; audience: string }) {
  return async (token: VerifiedAccessToken, required: readonly string[]): Promise<EntitlementRefusal | undefined> => {
    if (token.issuedTo === 'person') {
      const account = token.sub ? await deps.accounts.findById(token.sub) : undefined;
      if (!account || account.disabled) return { status: 401, error: 'invalid_token', description: GONE };
      if (!account.roles.includes(ADMIN_ROLE)) {
        return { status: 403, error: 'insufficient_scope', description: `this API needs the ${ADMIN_ROLE} role, which the account no longer holds` };
      }
      return undefined;
    }
    const client = await deps.clients.find(token.clientId);
    if (!client) return { status: 401, error: 'invalid_token', description: GONE };
    if (!client.resources.includes(deps.audience) || required.some((scope) => !client.scopes.includes(scope))) {
      return { status: 403, error: 'insufficient_scope', description: `this request needs the scope ${required.join(' ')}, which the client is no longer registered for` };
    }
    return undefined;
  };
}
