export { createAdminApiRouter } from './admin-api.ts';
export { methodProblems as adminMethodProblems } from './problem.ts';
export type { AdminApiDeps } from './admin-context.ts';
export { ADMIN_API_PATH, ADMIN_ROLE, ADMIN_SCOPES, adminApiIndicator, registerAdminApi } from './admin-resource.ts';
export { buildOpenApiDocument } from './openapi.ts';
export { settingsView } from './settings-view.ts';
// What the admin console shows and checks as this API does.
export { auditQuerySchema, clientView, resourceServerView, userQuerySchema, userView } from './views.ts';
export { rotateKeysSchema } from './key-routes.ts';
export { REFUSAL_AUDIT_WINDOW_MS, userOfPath } from './admin-context.ts';
export { endPersonsSession, operatorGuard, resetFactors, revokePersonsGrant, unblockAccount } from './user-operations.ts';
