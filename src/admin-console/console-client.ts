import type { ClientService, PinnedClient } from '../clients/index.ts';
import { accountPageUrl, firstPartyRegistration, registerFirstPartyClient, type FirstPartyClient } from '../account-page/index.ts';

// The admin console is an app of Portcullis' own, as the account page is
// (account-page/first-party-client.ts): a public, first-party client signing people in with
// the code flow and PKCE. Who may use it is decided per request by the admin role
// (console-session.ts); a second factor by the role's MFA policy (MFA_REQUIRED_ROLES, admin
// by default), or by this client's require-MFA flag, which an operator may set and which a
// restart keeps.

export const ADMIN_CONSOLE_CLIENT_ID = 'portcullis-admin';
export const ADMIN_CONSOLE_PATH = '/admin';
export const ADMIN_CONSOLE_CALLBACK_PATH = `${ADMIN_CONSOLE_PATH}/callback`;

const consoleClient = (issuer: string): FirstPartyClient => ({
  clientId: ADMIN_CONSOLE_CLIENT_ID,
  name: 'Portcullis admin console',
  redirectUri: accountPageUrl(issuer, ADMIN_CONSOLE_CALLBACK_PATH),
  scopes: ['openid', 'email', 'profile'],
});

/** What the registry pins the console's client to (whether or not the console is on: one registered while it was stays pinned). */
export const adminConsoleRegistration = (issuer: string): PinnedClient => firstPartyRegistration(consoleClient(issuer));

export function registerAdminConsoleClient(clients: Pick<ClientService, 'find' | 'create' | 'update'>, issuer: string): Promise<void> {
  return registerFirstPartyClient(clients, consoleClient(issuer));
}
