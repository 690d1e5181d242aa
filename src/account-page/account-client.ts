import type { ClientService } from '../clients/index.ts';
import { ConflictError } from '../errors.ts';

// The account page is an app of Portcullis' own: a public client that signs people in with
// the authorization code flow and PKCE (first-party, so no consent is asked), registered on
// first start like the account API's resource. Its redirect URI follows the issuer: an
// ISSUER change moves it at the next start.

export const ACCOUNT_PAGE_CLIENT_ID = 'portcullis-account';
export const ACCOUNT_PAGE_PATH = '/account';
export const ACCOUNT_CALLBACK_PATH = `${ACCOUNT_PAGE_PATH}/callback`;

export async function registerAccountPageClient(clients: Pick<ClientService, 'find' | 'create' | 'update'>, issuer: string): Promise<void> {
  const redirectUri = `${issuer}${ACCOUNT_CALLBACK_PATH}`;
  const existing = await clients.find(ACCOUNT_PAGE_CLIENT_ID);
  if (existing) {
    if (existing.redirectUris.length !== 1 || existing.redirectUris[0] !== redirectUri) await clients.update(ACCOUNT_PAGE_CLIENT_ID, { redirectUris: [redirectUri] });
    return;
  }
  try {
    await clients.create({
      clientId: ACCOUNT_PAGE_CLIENT_ID,
      type: 'spa',
      name: 'Your account',
      redirectUris: [redirectUri],
      grantTypes: ['authorization_code'],
      scopes: ['openid', 'email', 'profile'],
      firstParty: true,
    });
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error; // another instance registered it first
  }
}
