import { pinnedRepair, type ClientService, type PinnedClient } from '../clients/index.ts';
import { ConflictError, StartupError } from '../errors.ts';

// Portcullis' own pages (the account page, the admin console) are apps of its own: public
// clients that sign people in with the authorization code flow and PKCE (first-party, so no
// consent is asked), registered on first start. The registry pins them (PinnedClient): on
// every surface only their name and require-MFA flag may change, and they are never deleted;
// at every start whatever drifted is put back (the redirect URI follows the issuer). A client
// of that id of another type (an operator's own, made before) stops the start: it would
// otherwise be taken over, or the page would sign in through it.

export interface FirstPartyClient {
  readonly clientId: string;
  readonly name: string;
  readonly redirectUri: string;
  readonly scopes: readonly string[];
}

/** The whole registration of such a client: what the registry pins it to (clients/client-service.ts, PinnedClient). */
export function firstPartyRegistration(wanted: FirstPartyClient): PinnedClient {
  const registration = { clientId: wanted.clientId, type: 'spa', name: wanted.name, redirectUris: [wanted.redirectUri], grantTypes: ['authorization_code'], scopes: [...wanted.scopes], firstParty: true };
  return { clientId: wanted.clientId, registration };
}

/**
 * Registers the client on first start; at every later start puts back whatever of it
 * drifted (an issuer moved, an older version's registration), keeping the operator's name
 * and require-MFA flag.
 */
export async function registerFirstPartyClient(clients: Pick<ClientService, 'find' | 'create' | 'update'>, wanted: FirstPartyClient): Promise<void> {
  const { clientId, registration } = firstPartyRegistration(wanted);
  const existing = await clients.find(clientId);
  if (existing) {
    if (existing.type !== 'spa') {
      throw new StartupError(`the client ${clientId} is one of Portcullis' own pages, but this database has one of type ${existing.type}: rename or delete it (portcullis clients delete ${clientId})`);
    }
    const repair = pinnedRepair(existing, registration);
    if (repair) await clients.update(clientId, repair);
    return;
  }
  try {
    await clients.create(registration);
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error; // another instance registered it first
  }
}
