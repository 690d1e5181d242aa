export { checkAgainstRegistry, OIDC_SCOPES } from './check-against-registry.ts';
export { createClientStore, RegistrationTokenRefusedError, type ClientOrigin, type ClientStore, type ClientRecord } from './client-store.ts';
export {
  createRegistrationTokenStore,
  isPossibleRegistrationToken,
  type LiveRegistrationToken,
  type RegistrationTokenRecord,
  type RegistrationTokenStore,
} from './registration-token-store.ts';
export { createRegistrationTokens, type RegistrationTokens } from './registration-tokens.ts';
export {
  createClientService,
  newClientId,
  toClientInput,
  pinnedRepair,
  type ClientService,
  type ClientTokenRevoker,
  type PinnedClient,
  type CreatedClient,
  type Registration,
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
export { createResourceService, type PinnedResource, type ResourceService } from './resource-service.ts';
export { resourceServerView } from './resource-view.ts';
export {
  AUTH_METHODS,
  CLIENT_TYPES,
  clientInputSchema,
  defaultAuthMethod,
  DEVICE_CODE_GRANT,
  GRANT_TYPES,
  TOKEN_EXCHANGE_GRANT,
  defaultGrantTypes,
  defaultScopes,
  parseClientInput,
  usesSecret,
  type AuthMethodName,
  type ClientTypeName,
  type ClientInput,
} from './client-input.ts';
export { clientIdSchema, isLoopbackHost, isUuid, nameSchema, NO_CONTROL_CHARACTERS, noControlCharacters, roleSchema } from './validation.ts';
export { newClientSecret } from './issue-client-secret.ts';
export { CLIENT_ASSERTION_ALGS, type JwkSet, type PublicJwk } from './client-jwks.ts';
export { cacheRegistry, type ChangeFeed, type CachedRegistry } from './registry-cache.ts';
