import type { ClientService } from '../clients/index.ts';
import { ConflictError, StartupError } from '../errors.ts';

// Portcullis' own pages (the account page, the admin console) are apps of its own: public
// clients that sign people in with the authorization code flow and PKCE (first-party, so no
// consent is asked), registered on first start. At every start what makes a client the
// page's is put back (its redirect URI follows the issuer; authorization code only; first
// party, its scopes); an operator's other changes stay (e.g. require MFA for the page). A
// client of that id of another type (an operator's own, made before) stops the start: it
// would otherwise be taken over, or the page would sign in through it.

export interface FirstPartyClient {
  readonly clientId: string;
  readonly name: string;
  readonly redirectUri: string;
  readonly scopes: readonly string[];
}

export async function registerFirstPartyClient(clients: Pick<ClientService, 'find' | 'create' | 'update'>, wanted: FirstPartyClient): Promise<void> {
  const { clientId, redirectUri, scopes } = wanted;
  const existing = await clients.find(clientId);
  if (existing) {
    if (existing.type !== 'spa') {
      throw new StartupError(`the client ${clientId} is one of Portcullis' own pages, but this database has one of type ${existing.type}: rename or delete it (portcullis clients delete ${clientId})`);
    }
    const ours =
      existing.redirectUris.length === 1 &&
      existing.redirectUris[0] === redirectUri &&
      existing.grantTypes.join() === 'authorization_code' &&
      existing.firstParty &&
      scopes.every((scope) => existing.scopes.includes(scope));
    if (!ours) await clients.update(clientId, { redirectUris: [redirectUri], grantTypes: ['authorization_code'], firstParty: true, scopes: [...new Set([...existing.scopes, ...scopes])] });
    return;
  }
  try {
    await clients.create({ clientId, type: 'spa', name: wanted.name, redirectUris: [redirectUri], grantTypes: ['authorization_code'], scopes: [...scopes], firstParty: true });
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error; // another instance registered it first
  }
}
