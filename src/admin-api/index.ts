export { createAdminApiRouter, type AdminApiDeps } from './admin-api.ts';
export { ADMIN_API_PATH, ADMIN_ROLE, ADMIN_SCOPES, adminApiIndicator, registerAdminApi } from './admin-resource.ts';
export { buildOpenApiDocument } from './openapi.ts';
