import { NotFoundError, ValidationError } from '../errors.ts';
import { parseResourceInput, type ResourceServerRecord, type ResourceStore } from './resource-store.ts';

export interface ResourceService {
  create(raw: unknown): Promise<ResourceServerRecord>;
  /** Applies a partial change; `scopes`, when given, replaces the whole list. */
  update(indicator: string, raw: unknown): Promise<ResourceServerRecord>;
  /** Creates or replaces (for declarative imports). */
  put(raw: unknown): Promise<ResourceServerRecord>;
  get(indicator: string): Promise<ResourceServerRecord>;
  find(indicator: string): Promise<ResourceServerRecord | undefined>;
  list(): Promise<ResourceServerRecord[]>;
}

export function createResourceService(deps: { store: ResourceStore }): ResourceService {
  const { store } = deps;
  async function get(indicator: string) {
    const resource = await store.find(indicator);
    if (!resource) throw new NotFoundError(`no resource server ${indicator}`);
    return resource;
  }
  return {
    create: async (raw) => store.create(parseResourceInput(raw)),
    async update(indicator, raw) {
      const current = await get(indicator);
      if (typeof raw !== 'object' || raw === null) throw new ValidationError('input: must be an object');
      if ('indicator' in raw && raw.indicator !== indicator) throw new ValidationError('indicator: cannot be changed');
      const { indicator: _same, ...fields } = current;
      return store.put(parseResourceInput({ indicator, ...fields, scopes: current.scopes.map((s) => ({ ...s, roles: [...s.roles] })), ...raw }));
    },
    put: async (raw) => store.put(parseResourceInput(raw)),
    get,
    find: (indicator) => store.find(indicator),
    list: () => store.list(),
  };
}
