import type { ResourceServerRecord } from './resource-store.ts';

/**
 * What is shown of a resource server, wherever it is shown (`portcullis resources show
 * --json`, the admin API): every field, its scopes copied, the version as a timestamp.
 */
export function resourceServerView(resource: ResourceServerRecord) {
  return {
    indicator: resource.indicator,
    name: resource.name,
    accessTokenFormat: resource.accessTokenFormat,
    accessTokenTtl: resource.accessTokenTtl,
    signingAlg: resource.signingAlg,
    scopes: resource.scopes.map((scope) => ({ name: scope.name, description: scope.description, roles: [...scope.roles] })),
    updatedAt: resource.updatedAt.toISOString(),
  };
}
