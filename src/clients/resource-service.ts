import { discardAudit, type ActedBy, type AuditSink } from '../audit/index.ts';
import { ConflictError, NotFoundError, PreconditionFailedError, ValidationError } from '../errors.ts';
import { parseResourceInput, type ResourceInput, type ResourceServerRecord, type ResourceStore } from './resource-store.ts';

// The registry of resource servers (APIs), whichever surface changes it (the CLI, an import
// file, the admin API): validated by one schema, and every change audited here with who
// made it. A resource server that clients are registered for is not deleted from under
// them: their registrations name it, and would ask for a target that no longer exists.

// `by` on a change: who made it, when not the audit sink's default (the admin API's caller).
export interface ResourceService {
  create(raw: unknown, by?: ActedBy): Promise<ResourceServerRecord>;
  /**
   * Applies a partial change; `scopes`, when given, replaces the whole list. `ifUpdatedAt`:
   * only onto that version, checked by the write itself (PreconditionFailedError).
   */
  update(indicator: string, raw: unknown, by?: ActedBy, options?: { ifUpdatedAt?: Date | undefined }): Promise<ResourceServerRecord>;
  /** Creates or replaces (for declarative imports). */
  put(raw: unknown, by?: ActedBy): Promise<ResourceServerRecord>;
  /** Deletes it with its scopes; ConflictError while a client is registered for it, or when it is pinned; false when there was none. */
  delete(indicator: string, by?: ActedBy): Promise<boolean>;
  get(indicator: string): Promise<ResourceServerRecord>;
  find(indicator: string): Promise<ResourceServerRecord | undefined>;
  list(): Promise<ResourceServerRecord[]>;
}

/** The input a record was made from: to merge a partial change onto. */
function toResourceInput(resource: ResourceServerRecord): ResourceInput {
  return {
    indicator: resource.indicator,
    name: resource.name,
    accessTokenFormat: resource.accessTokenFormat,
    accessTokenTtl: resource.accessTokenTtl,
    signingAlg: resource.signingAlg as ResourceInput['signingAlg'],
    scopes: resource.scopes.map((scope) => ({ ...scope, roles: [...scope.roles] })),
  };
}

/**
 * A resource server Portcullis itself relies on (the admin API's): never deleted, and these
 * scopes always bound to a role (a scope without roles is granted to every account).
 */
export interface PinnedResource {
  readonly indicator: string;
  readonly roleBoundScopes: readonly string[];
}

/** What an audit event says about a resource server: its settings and scopes with their roles, never more. */
function auditFacts(resource: ResourceServerRecord) {
  return {
    accessTokenFormat: resource.accessTokenFormat,
    accessTokenTtl: resource.accessTokenTtl,
    scopes: resource.scopes.map((scope) => ({ name: scope.name, roles: [...scope.roles] })),
  };
}

export function createResourceService(deps: { store: ResourceStore; audit?: AuditSink | undefined; pinned?: readonly PinnedResource[] }): ResourceService {
  const { store } = deps;
  const audit = deps.audit ?? discardAudit;
  const pinnedAt = (indicator: string) => deps.pinned?.find((pinned) => pinned.indicator === indicator);
  /** Whichever surface writes it (CLI, import file, API): a pinned resource server keeps its scopes bound. */
  function keepPinned(input: ResourceInput): ResourceInput {
    for (const name of pinnedAt(input.indicator)?.roleBoundScopes ?? []) {
      const scope = input.scopes.find((candidate) => candidate.name === name);
      if (!scope || scope.roles.length === 0) {
        throw new ValidationError(`scopes: ${input.indicator.slice(0, 200)} is Portcullis' own; its ${name} must stay, bound to a role (a scope without roles is granted to every account)`);
      }
    }
    return input;
  }
  async function get(indicator: string) {
    const resource = await store.find(indicator);
    if (!resource) throw new NotFoundError(`no resource server ${indicator}`);
    return resource;
  }
  return {
    async create(raw, by) {
      const resource = await store.create(keepPinned(parseResourceInput(raw)));
      audit.record({ type: 'resource.created', data: { indicator: resource.indicator, ...auditFacts(resource) }, ...by });
      return resource;
    },
    async update(indicator, raw, by, options = {}) {
      const current = await get(indicator);
      const { ifUpdatedAt } = options;
      // The change is merged onto `current`: it must be the version the caller named.
      if (ifUpdatedAt && current.updatedAt.getTime() !== ifUpdatedAt.getTime()) throw new PreconditionFailedError();
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ValidationError('input: must be an object');
      if ('indicator' in raw && raw.indicator !== indicator) throw new ValidationError('indicator: cannot be changed');
      const resource = await store.put(keepPinned(parseResourceInput({ ...toResourceInput(current), ...raw })), { ifUpdatedAt: ifUpdatedAt ?? current.updatedAt });
      audit.record({ type: 'resource.updated', data: { indicator, fields: Object.keys(raw), ...auditFacts(resource) }, ...by });
      return resource;
    },
    async put(raw, by) {
      const input = keepPinned(parseResourceInput(raw));
      const existed = (await store.find(input.indicator)) !== undefined;
      const resource = await store.put(input);
      audit.record({ type: existed ? 'resource.updated' : 'resource.created', data: { indicator: resource.indicator, ...(existed && { fields: ['*'] }), ...auditFacts(resource) }, ...by });
      return resource;
    },
    async delete(indicator, by) {
      if (pinnedAt(indicator)) throw new ConflictError(`${indicator.slice(0, 200)} is Portcullis' own resource server and cannot be deleted`);
      const deleted = await store.delete(indicator);
      if (deleted) audit.record({ type: 'resource.deleted', data: { indicator }, ...by });
      return deleted;
    },
    get,
    find: (indicator) => store.find(indicator),
    list: () => store.list(),
  };
}
