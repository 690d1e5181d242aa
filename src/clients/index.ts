export { createClientStore, type ClientStore, type ClientRecord } from './client-store.ts';
export { createClientService, hasSecret, OIDC_SCOPES, toClientInput, type ClientService, type ClientTokenRevoker, type CreatedClient } from './client-service.ts';
export {
  createResourceStore,
  resourceInputSchema,
  parseResourceInput,
  SIGNING_ALGS,
  type ResourceStore,
  type ResourceServerRecord,
  type ResourceInput,
} from './resource-store.ts';
export { createResourceService, type ResourceService } from './resource-service.ts';
export {
  CLIENT_TYPES,
  GRANT_TYPES,
  clientInputSchema,
  clientIdSchema,
  defaultGrantTypes,
  defaultScopes,
  parseClientInput,
  toValidationError,
  type ClientTypeName,
  type ClientInput,
} from './client-input.ts';
