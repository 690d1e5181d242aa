import type { ResourceService } from '../clients/index.ts';
import { ConflictError } from '../errors.ts';

// The admin API is itself a resource server of Portcullis: operators reach it with
// Portcullis' own access tokens. Its scopes are bound to the `admin` role, so a person
// receives them only while they hold that role (oidc/resource-policy.ts); automation uses a
// client-credentials client registered for them (no person, no role rule).

/** Where the API is mounted, under the issuer. */
export const ADMIN_API_PATH = '/admin/api/v1';

/** The role a person needs to be granted the admin scopes. */
export const ADMIN_ROLE = 'admin';

export const ADMIN_SCOPES = {
  read: 'admin:read',
  write: 'admin:write',
} as const;

/** Its resource identifier (RFC 8707): the audience of its tokens. */
export function adminApiIndicator(issuer: string): string {
  return `${issuer}/admin`;
}

/**
 * Registers the admin API as a resource server on first start. An operator's later changes
 * (lifetime, format) are kept; the scopes stay bound to the admin role unless an operator
 * deliberately rebinds them.
 */
export async function registerAdminApi(resources: ResourceService, issuer: string): Promise<void> {
  const indicator = adminApiIndicator(issuer);
  if (await resources.find(indicator)) return;
  try {
    await resources.create({
      indicator,
      name: 'Portcullis admin API',
      scopes: [
        { name: ADMIN_SCOPES.read, description: 'Read clients, resource servers, users and their grants, the audit trail, the keys and the settings', roles: [ADMIN_ROLE] },
        { name: ADMIN_SCOPES.write, description: 'Create, change and delete clients, resource servers and users; revoke grants, sign people out, rotate keys', roles: [ADMIN_ROLE] },
      ],
      accessTokenFormat: 'jwt',
      // Short: an admin token is worth stealing, and a removed role ends it soon.
      accessTokenTtl: 300,
    });
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error; // another instance registered it first
  }
}
