import type { ClientService } from '../clients/index.ts';
import { ConflictError, StartupError } from '../errors.ts';

// The account page is an app of Portcullis' own: a public client that signs people in with
// the authorization code flow and PKCE (first-party, so no consent is asked), registered on
// first start like the account API's resource. At every start what makes it the page's
// client is put back (the redirect URI follows the issuer; authorization code only; first
// party, its scopes); an operator's other changes stay (e.g. require MFA for the page). A
// client of that id of another type (an operator's own, made before) stops the start: it
// would otherwise be taken over, or the page would sign in through it.

export const ACCOUNT_PAGE_CLIENT_ID = 'portcullis-account';
export const ACCOUNT_PAGE_PATH = '/account';
export const ACCOUNT_CALLBACK_PATH = `${ACCOUNT_PAGE_PATH}/callback`;

/**
 * A URL of the page: at the root of the issuer's origin, as /password-reset and
 * /interaction are, whatever path the issuer has (the proxy routes the root there too).
 */
export function accountPageUrl(issuer: string, path: string = ACCOUNT_PAGE_PATH): string {
  return new URL(path, new URL(issuer).origin).href;
}

const SCOPES = ['openid', 'email', 'profile'];

export async function registerAccountPageClient(clients: Pick<ClientService, 'find' | 'create' | 'update'>, issuer: string): Promise<void> {
  const redirectUri = accountPageUrl(issuer, ACCOUNT_CALLBACK_PATH);
  const existing = await clients.find(ACCOUNT_PAGE_CLIENT_ID);
  if (existing) {
    if (existing.type !== 'spa') {
      throw new StartupError(`the client ${ACCOUNT_PAGE_CLIENT_ID} is the account page's own, but this database has one of type ${existing.type}: rename or delete it (portcullis clients delete ${ACCOUNT_PAGE_CLIENT_ID})`);
    }
    const ours =
      existing.redirectUris.length === 1 &&
      existing.redirectUris[0] === redirectUri &&
      existing.grantTypes.join() === 'authorization_code' &&
      existing.firstParty &&
      SCOPES.every((scope) => existing.scopes.includes(scope));
    if (!ours) await clients.update(ACCOUNT_PAGE_CLIENT_ID, { redirectUris: [redirectUri], grantTypes: ['authorization_code'], firstParty: true, scopes: [...new Set([...existing.scopes, ...SCOPES])] });
    return;
  }
  try {
    await clients.create({
      clientId: ACCOUNT_PAGE_CLIENT_ID,
      type: 'spa',
      name: 'Your account',
      redirectUris: [redirectUri],
      grantTypes: ['authorization_code'],
      scopes: SCOPES,
      firstParty: true,
    });
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error; // another instance registered it first
  }
}
