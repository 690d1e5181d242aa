import type { ResourceService } from '../clients/index.ts';
import { ConflictError } from '../errors.ts';
import { ACCOUNT_API_SCOPES, accountApiIndicator } from './account-api.ts';

/**
 * Registers the account API as a resource server on first start, so clients can be
 * registered for it. An operator's later changes (format, lifetime) are kept.
 */
export async function registerAccountApi(resources: ResourceService, issuer: string): Promise<void> {
  const indicator = accountApiIndicator(issuer);
  if (await resources.find(indicator)) return;
  try {
    await resources.create({
      indicator,
      name: 'Portcullis account API',
      scopes: ACCOUNT_API_SCOPES.map((scope) => ({ ...scope })),
      accessTokenFormat: 'jwt',
      accessTokenTtl: 600,
    });
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error; // another instance registered it first
  }
}
