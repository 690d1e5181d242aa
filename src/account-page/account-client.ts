import type { ClientService, PinnedClient } from '../clients/index.ts';
import { firstPartyRegistration, registerFirstPartyClient, type FirstPartyClient } from './first-party-client.ts';

// The account page is an app of Portcullis' own (first-party-client.ts says what that means
// and what is put back at every start).

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

const accountPageClient = (issuer: string): FirstPartyClient => ({ clientId: ACCOUNT_PAGE_CLIENT_ID, name: 'Your account', redirectUri: accountPageUrl(issuer, ACCOUNT_CALLBACK_PATH), scopes: ['openid', 'email', 'profile'] });

/** What the registry pins the page's client to. */
export const accountPageRegistration = (issuer: string): PinnedClient => firstPartyRegistration(accountPageClient(issuer));

export function registerAccountPageClient(clients: Pick<ClientService, 'find' | 'create' | 'update'>, issuer: string): Promise<void> {
  return registerFirstPartyClient(clients, accountPageClient(issuer));
}
