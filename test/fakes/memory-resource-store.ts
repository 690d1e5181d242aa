import type { ResourceInput, ResourceServerRecord, ResourceStore } from '../../src/clients/resource-store.ts';
import { ConflictError, PreconditionFailedError } from '../../src/errors.ts';

// The resource server store in memory, for unit tests of the client and resource services.
// It keeps the contract of src/clients/resource-store.ts (test/contracts/resource-store.ts),
// which the Prisma store keeps on both databases.

const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** A deep copy with the scopes ordered by name, as the table gives them back. */
function toRecord(resource: ResourceInput | ResourceServerRecord, updatedAt: Date): ResourceServerRecord {
  return {
    updatedAt: new Date(updatedAt),
    indicator: resource.indicator,
    name: resource.name,
    accessTokenFormat: resource.accessTokenFormat,
    accessTokenTtl: resource.accessTokenTtl,
    signingAlg: resource.signingAlg,
    scopes: resource.scopes
      .map((scope) => ({ name: scope.name, description: scope.description, roles: [...scope.roles] }))
      .sort((a, b) => byCodePoint(a.name, b.name)),
  };
}

export function createMemoryResourceStore(): ResourceStore {
  const rows = new Map<string, ResourceServerRecord>();
  /** Stores the record, or refuses as the tables would; a refusal changes nothing. */
  function write(resource: ResourceInput, replace: boolean, ifUpdatedAt?: Date): Promise<ResourceServerRecord> {
    const refused = new ConflictError(`resource server ${resource.indicator} already exists`);
    if (!replace && rows.has(resource.indicator)) return Promise.reject(refused);
    if (ifUpdatedAt && rows.get(resource.indicator)?.updatedAt.getTime() !== ifUpdatedAt.getTime()) return Promise.reject(new PreconditionFailedError());
    // Scope names are a key within their server, as in the table.
    if (new Set(resource.scopes.map((scope) => scope.name)).size !== resource.scopes.length) return Promise.reject(refused);
    const record = toRecord(resource, new Date());
    rows.set(record.indicator, record);
    return Promise.resolve(toRecord(record, record.updatedAt));
  }

  return {
    create: (resource) => write(resource, false),
    put: (resource, options = {}) => write(resource, true, options.ifUpdatedAt),
    delete: (indicator) => Promise.resolve(rows.delete(indicator)),
    find(indicator) {
      const row = rows.get(indicator);
      return Promise.resolve(row && toRecord(row, row.updatedAt));
    },
    list: () => Promise.resolve([...rows.values()].sort((a, b) => byCodePoint(a.indicator, b.indicator)).map((row) => toRecord(row, row.updatedAt))),
  };
}
