import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { cacheRegistry, type ChangeFeed } from '../../src/clients/registry-cache.ts';
import type { ClientStore } from '../../src/clients/client-store.ts';
import type { ResourceStore } from '../../src/clients/resource-store.ts';
import { describeClientStore, sampleClient } from '../contracts/client-store.ts';
import { describeResourceStore, sampleResource } from '../contracts/resource-store.ts';
import { createMemoryClientStore } from '../fakes/memory-client-store.ts';
import { createMemoryResourceStore } from '../fakes/memory-resource-store.ts';

// The registry cache (src/clients/registry-cache.ts) in front of the in-memory stores, with a
// change feed the test drives: it keeps the stores' contracts, and it never serves what a
// change has made stale.

function controlledFeed(live = true) {
  const listeners: (() => void)[] = [];
  return {
    live,
    isLive() {
      return this.live;
    },
    onChange(listener: () => void) {
      listeners.push(listener);
    },
    change() {
      for (const listener of listeners) listener();
    },
  } satisfies ChangeFeed & { live: boolean; change(): void };
}

/** Stores that count their reads, and one whose next read can be held back. */
function countingStores() {
  const clients = createMemoryClientStore();
  const resources = createMemoryResourceStore();
  const reads = { clients: 0, resources: 0 };
  let hold: Promise<void> | undefined;
  const counted: { clients: ClientStore; resources: ResourceStore } = {
    clients: {
      ...clients,
      async findById(clientId) {
        reads.clients++;
        const found = await clients.findById(clientId);
        if (hold) await hold;
        return found;
      },
    },
    resources: {
      ...resources,
      async find(indicator) {
        reads.resources++;
        return resources.find(indicator);
      },
    },
  };
  return { raw: { clients, resources }, counted, reads, holdReads: (until: Promise<void>) => (hold = until), release: () => (hold = undefined) };
}

describe('the registry cache keeps the stores\' contracts', () => {
  describeClientStore(() => Promise.resolve(cacheRegistry({ clients: createMemoryClientStore(), resources: createMemoryResourceStore() }, controlledFeed()).clients));
  describeResourceStore(() => Promise.resolve(cacheRegistry({ clients: createMemoryClientStore(), resources: createMemoryResourceStore() }, controlledFeed()).resources));
});

describe('the registry cache', () => {
  test('while the feed is live, a client and a resource server are read from the database once', async () => {
    const { raw, counted, reads } = countingStores();
    await raw.clients.create(sampleClient('app-1'));
    await raw.resources.create(sampleResource('https://api.example.com'));
    const cached = cacheRegistry(counted, controlledFeed());
    for (let i = 0; i < 5; i++) {
      assert.equal((await cached.clients.findById('app-1'))?.clientId, 'app-1');
      assert.equal((await cached.resources.find('https://api.example.com'))?.indicator, 'https://api.example.com');
    }
    assert.deepEqual(reads, { clients: 1, resources: 1 });
  });

  test('while the feed is not live, every read goes to the database', async () => {
    const { raw, counted, reads } = countingStores();
    await raw.clients.create(sampleClient('app-1'));
    const feed = controlledFeed(false);
    const cached = cacheRegistry(counted, feed);
    await cached.clients.findById('app-1');
    await cached.clients.findById('app-1');
    assert.equal(reads.clients, 2);
    // Nothing read while it was down is served once it is live.
    await raw.clients.update('app-1', { name: 'Renamed' });
    feed.live = true;
    assert.equal((await cached.clients.findById('app-1'))?.name, 'Renamed');
  });

  test('a change reported by the feed (another instance, the CLI) drops what was cached, misses included', async () => {
    const { raw, counted } = countingStores();
    await raw.clients.create(sampleClient('app-1'));
    const feed = controlledFeed();
    const cached = cacheRegistry(counted, feed);
    assert.equal((await cached.clients.findById('app-1'))?.name, 'Web app');
    assert.equal(await cached.clients.findById('app-2'), undefined);
    // Written behind the cache's back, as another instance would.
    await raw.clients.update('app-1', { name: 'Renamed' });
    await raw.clients.create(sampleClient('app-2'));
    await raw.resources.create(sampleResource('https://new.example.com'));
    assert.equal((await cached.clients.findById('app-1'))?.name, 'Web app', 'served from memory until the feed says');
    feed.change();
    assert.equal((await cached.clients.findById('app-1'))?.name, 'Renamed');
    assert.equal((await cached.clients.findById('app-2'))?.clientId, 'app-2');
    assert.equal((await cached.resources.find('https://new.example.com'))?.indicator, 'https://new.example.com');
  });

  test('a write through the cache is seen by the next read on this instance at once, deletes included', async () => {
    const { counted } = countingStores();
    const cached = cacheRegistry(counted, controlledFeed());
    await cached.clients.create(sampleClient('app-1'));
    assert.equal((await cached.clients.findById('app-1'))?.name, 'Web app');
    await cached.clients.update('app-1', { name: 'Renamed', grantTypes: ['client_credentials'] });
    assert.deepEqual((await cached.clients.findById('app-1'))?.grantTypes, ['client_credentials']);
    await cached.clients.delete('app-1');
    assert.equal(await cached.clients.findById('app-1'), undefined);
    await cached.resources.put(sampleResource('https://api.example.com', { accessTokenFormat: 'jwt' }));
    assert.equal((await cached.resources.find('https://api.example.com'))?.accessTokenFormat, 'jwt');
    await cached.resources.put(sampleResource('https://api.example.com', { accessTokenFormat: 'opaque' }));
    assert.equal((await cached.resources.find('https://api.example.com'))?.accessTokenFormat, 'opaque');
  });

  test('a read that started before a change and ends after it is not kept', async () => {
    const { raw, counted, reads, holdReads, release } = countingStores();
    await raw.clients.create(sampleClient('app-1'));
    const feed = controlledFeed();
    const cached = cacheRegistry(counted, feed);
    let open!: () => void;
    holdReads(new Promise<void>((resolve) => (open = resolve)));
    const slow = cached.clients.findById('app-1'); // has read the old row, not yet returned
    await new Promise((resolve) => setImmediate(resolve));
    await raw.clients.update('app-1', { name: 'Renamed' });
    feed.change();
    open();
    assert.equal((await slow)?.name, 'Web app', 'the slow read answers what it read');
    release();
    assert.equal((await cached.clients.findById('app-1'))?.name, 'Renamed', 'but it was not kept');
    assert.equal(reads.clients, 2);
  });

  test('an entry is read again after its maximum age, even if the feed never reported a change', async () => {
    const { raw, counted } = countingStores();
    await raw.clients.create(sampleClient('app-1'));
    const cached = cacheRegistry(counted, controlledFeed(), { maxAgeMs: 50 });
    await cached.clients.findById('app-1');
    // Written where no trigger fires (a restore with triggers disabled): the feed stays silent.
    await raw.clients.update('app-1', { name: 'Renamed' });
    assert.equal((await cached.clients.findById('app-1'))?.name, 'Web app');
    await new Promise((resolve) => setTimeout(resolve, 80));
    assert.equal((await cached.clients.findById('app-1'))?.name, 'Renamed');
  });

  test('a miss is kept only for a key a client or resource server could have: junk ids cost no memory', async () => {
    const { counted, reads } = countingStores();
    const cached = cacheRegistry(counted, controlledFeed());
    const junk = 'x'.repeat(50_000);
    for (let i = 0; i < 3; i++) {
      assert.equal(await cached.clients.findById(junk), undefined);
      assert.equal(await cached.resources.find(`https://api.example.com/${junk}`), undefined);
      assert.equal(await cached.resources.find('not a url'), undefined);
    }
    assert.deepEqual(reads, { clients: 3, resources: 6 }, 'never kept, so read each time');
    await cached.clients.findById('app-unknown');
    await cached.clients.findById('app-unknown');
    assert.equal(reads.clients, 4, 'a possible id is kept as a miss');
  });

  test('a failed write still drops the cache (it may have half happened)', async () => {
    const { raw, counted } = countingStores();
    await raw.clients.create(sampleClient('app-1'));
    const cached = cacheRegistry(counted, controlledFeed());
    await cached.clients.findById('app-1');
    await raw.clients.update('app-1', { name: 'Renamed' });
    await assert.rejects(cached.clients.create(sampleClient('app-1')));
    assert.equal((await cached.clients.findById('app-1'))?.name, 'Renamed');
  });
});
