export { requireAccessToken, type AccessTokenState, type EntitlementRefusal } from './require-access-token.ts';
export { createAccountApiRouter, accountApiIndicator, ACCOUNT_API_PATH, ACCOUNT_API_SCOPES, type AccountApiDeps } from './account-api.ts';
export { buildProtectedResourceMetadata, protectedResourceMetadataUrl, PROTECTED_RESOURCE_WELL_KNOWN, type ProtectedResourceMetadata } from './protected-resource-metadata.ts';
export { createResourceMetadataRouter } from './serve-resource-metadata.ts';
export { registerAccountApi } from './register-account-api.ts';
