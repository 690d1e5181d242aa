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
    async create(raw) {
      const input = parseResourceInput(raw);
      if (await store.find(input.indicator)) throw new ValidationError(`indicator: ${input.indicator} is already registered`);
      return store.put(input);
    },
    async update(indicator, raw) {
      const current = await get(indicator);
      if (typeof raw !== 'object' || raw === null) throw new ValidationError('input: must be an object');
      if ('indicator' in raw && raw.indicator !== indicator) throw new ValidationError('indicator: cannot be changed');
      return store.put(parseResourceInput({ ...current, scopes: current.scopes.map((s) => ({ ...s })), ...raw }));
    },
    put: (raw) => store.put(parseResourceInput(raw)),
    get,
    find: (indicator) => store.find(indicator),
    list: () => store.list(),
  };
}
