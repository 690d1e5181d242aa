import { LRUCache } from 'lru-cache';

import type { ClientRecord, ClientStore } from './client-store.ts';
import type { ResourceServerRecord, ResourceStore } from './resource-store.ts';
import { isPossibleClientId } from './validation.ts';

/** What a registered indicator can be (resource-store.ts: an absolute URL of at most 2,000 characters). */
const mayBeIndicator = (key: string) => key.length <= 2000 && URL.canParse(key);

// The registry (clients, resource servers and their scopes) is read on every token
// request and changes a few times a day: this keeps it in memory, so the hot paths make
// no database round trip for it. It is only as fresh as its change feed says:
// - while the feed is live, an entry stays until the feed reports a change (any change
//   drops everything: the registry is small and changes are rare);
// - while it is not (connection lost, not yet listening), every read goes to the database;
// - a read that started before a change and ends after it is not kept (the generation
//   check), so a change can never be undone by a slow read.
// - an entry is kept at most `maxAgeMs` (60 s) whatever the feed says: the bound for a
//   write that fires no trigger (a restore with triggers disabled, a replica's apply).
// Writes made through these stores drop the cache at once on this instance; others hear
// of it through the feed. Misses are cached too (a flood of unknown client ids costs one
// read each per change), but only for keys a client or resource server could have, and
// the whole cache is bounded in bytes as well as entries: request parameters are the
// attacker's to choose.

export interface ChangeFeed {
  isLive(): boolean;
  onChange(listener: () => void): void;
}

export interface CachedRegistry {
  readonly clients: ClientStore;
  readonly resources: ResourceStore;
}

const DEFAULT_MAX_ENTRIES = 10_000;
const DEFAULT_MAX_AGE_MS = 60_000;
/** About 16 MiB: a registry record weighs a few KiB, a miss its key. */
const MAX_BYTES = 16 * 1024 * 1024;
const RECORD_BYTES = 4096;

/** Cached value; `found: undefined` is a known miss. */
interface Entry<T> {
  readonly found: T | undefined;
}

function createReadThrough<T extends object>(feed: ChangeFeed, options: { max: number; maxAgeMs: number; mayExist: (key: string) => boolean }) {
  const entries = new LRUCache<string, Entry<T>>({
    max: options.max,
    ttl: options.maxAgeMs,
    maxSize: MAX_BYTES,
    sizeCalculation: (entry, key) => 2 * key.length + (entry.found ? RECORD_BYTES : 64),
  });
  let generation = 0;
  feed.onChange(() => {
    generation++;
    entries.clear();
  });
  return {
    async read(key: string, load: () => Promise<T | undefined>): Promise<T | undefined> {
      if (!feed.isLive()) return load();
      const hit = entries.get(key);
      if (hit) return hit.found;
      const started = generation;
      const found = await load();
      if (started === generation && feed.isLive() && (found || options.mayExist(key))) entries.set(key, { found });
      return found;
    },
    /** After a write of our own: nothing read before it may be served. */
    drop() {
      generation++;
      entries.clear();
    },
  };
}

export function cacheRegistry(
  stores: { clients: ClientStore; resources: ResourceStore },
  feed: ChangeFeed,
  options: { max?: number; maxAgeMs?: number } = {},
): CachedRegistry {
  const limits = { max: options.max ?? DEFAULT_MAX_ENTRIES, maxAgeMs: options.maxAgeMs ?? DEFAULT_MAX_AGE_MS };
  const clients = createReadThrough<ClientRecord>(feed, { ...limits, mayExist: isPossibleClientId });
  const resources = createReadThrough<ResourceServerRecord>(feed, { ...limits, mayExist: mayBeIndicator });
  const dropAll = () => {
    clients.drop();
    resources.drop();
  };
  // A write drops both: a client's normalisation reads resources, and deleting a resource
  // server changes what clients may ask for.
  const writing =
    <A extends unknown[], R>(write: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await write(...args);
      } finally {
        dropAll();
      }
    };
  return {
    clients: {
      ...stores.clients,
      create: writing((client, options) => stores.clients.create(client, options)),
      update: writing((clientId, changes, options) => stores.clients.update(clientId, changes, options)),
      delete: writing((clientId) => stores.clients.delete(clientId)),
      findById: (clientId) => clients.read(clientId, () => stores.clients.findById(clientId)),
    },
    resources: {
      ...stores.resources,
      create: writing((resource) => stores.resources.create(resource)),
      put: writing((resource, options) => stores.resources.put(resource, options)),
      delete: writing((indicator) => stores.resources.delete(indicator)),
      find: (indicator) => resources.read(indicator, () => stores.resources.find(indicator)),
    },
  };
}
