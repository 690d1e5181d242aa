import { randomUUID } from 'node:crypto';

import type { ActedBy, AuditSink } from '../audit/index.ts';
import type { ClientRecord, ClientStore } from './client-store.ts';
import type { ClientTokenRevoker, RevokedCounts } from './client-service.ts';

// Ending what a client holds: revoking its tokens, or deleting it (client-service.ts). Rules:
// - Revoking replaces the client's token generation first: from then on no earlier
//   client-credentials JWT verifies, even before its grants and tokens are gone.
// - Deleting ends the tokens first: a failure leaves the client in place to delete again,
//   never tokens of a client that is gone. A client registered later under the same id
//   starts afresh (its own generation; no grants, consent or tokens of this one). Grants
//   are swept again once the row is gone, for an authorization that completed in between;
//   one still in flight after that sweep is the remaining window (no foreign key yet).
// - Without a revoker (tests of the registry alone) there is nothing to end: counts are 0.

export function createClientEnding(deps: {
  store: ClientStore;
  audit: AuditSink;
  tokens?: ClientTokenRevoker | undefined;
  get: (clientId: string) => Promise<ClientRecord>;
}): {
  revokeTokens(clientId: string): Promise<RevokedCounts>;
  /** `as`: the event it is recorded as (a registered client deleting itself, RFC 7592, says so). */
  delete(clientId: string, by?: ActedBy, as?: 'client.deleted' | 'client.registration_deleted'): Promise<void>;
} {
  const { store, audit } = deps;
  const revokeHeld = async (clientId: string): Promise<RevokedCounts> =>
    (await deps.tokens?.revokeClient(clientId)) ?? { grants: 0, tokens: 0 };

  return {
    async revokeTokens(clientId) {
      await deps.get(clientId);
      // The new generation first: from here on no earlier client-credentials JWT verifies.
      await store.update(clientId, { tokenGeneration: randomUUID() });
      const count = await revokeHeld(clientId);
      audit.record({ type: 'client.tokens_revoked', clientId, data: { grants: count.grants, tokens: count.tokens } });
      return count;
    },

    async delete(clientId, by, as = 'client.deleted') {
      await deps.get(clientId);
      // Tokens first: a failure leaves the client in place to delete again.
      const count = await revokeHeld(clientId);
      await store.delete(clientId);
      // Then once more: an authorization that completed between the two steps left a grant
      // a client registered again under this id would otherwise inherit. A request that
      // found the client before the delete and saves after this sweep is not covered.
      const late = await revokeHeld(clientId);
      const [grants, tokens] = [count.grants + late.grants, count.tokens + late.tokens];
      audit.record({ type: as, clientId, data: { grants, tokens }, ...by });
    },
  };
}
