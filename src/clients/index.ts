export { createClientStore, type ClientStore, type ClientRecord } from './client-store.ts';
export {
  createClientService,
  hasSecret,
  OIDC_SCOPES,
  toClientInput,
  type ClientService,
  type ClientTokenRevoker,
  type CreatedClient,
  type RotateOptions,
} from './client-service.ts';
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
  AUTH_METHODS,
  CLIENT_TYPES,
  GRANT_TYPES,
  clientInputSchema,
  clientIdSchema,
  defaultAuthMethod,
  defaultGrantTypes,
  defaultScopes,
  parseClientInput,
  toValidationError,
  usesSecret,
  type AuthMethodName,
  type ClientTypeName,
  type ClientInput,
} from './client-input.ts';
export { CLIENT_ASSERTION_ALGS, jwkSetSchema, type JwkSet, type PublicJwk } from './client-jwks.ts';
