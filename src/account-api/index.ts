export { requireAccessToken, type AccessTokenState } from './require-access-token.ts';
export { createAccountApiRouter, accountApiIndicator, ACCOUNT_API_SCOPES, type AccountApiDeps } from './account-api.ts';
export { registerAccountApi } from './register-account-api.ts';
