export { createClientStore, type ClientStore, type ClientRecord } from './client-store.ts';
export { createClientService, hasSecret, OIDC_SCOPES, toClientInput, type ClientService, type CreatedClient } from './client-service.ts';
export { createResourceStore, type ResourceStore, type ResourceServerRecord, SIGNING_ALGS } from './resource-store.ts';
export { createResourceService, type ResourceService } from './resource-service.ts';
export { CLIENT_TYPES, GRANT_TYPES, type ClientTypeName, type ClientInput } from './client-input.ts';
