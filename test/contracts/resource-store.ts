// The contract every ResourceStore keeps (src/clients/resource-store.ts): Prisma on both
// databases (test/clients/resource-store.integration.test.ts) and the in-memory fake the unit
// tests of the services use (test/clients/resource-store.unit.test.ts). Where the two could differ,
// the database's behaviour is the rule written here. Input arrives validated
// (parseResourceInput); the store keeps it whole.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { ResourceInput, ResourceServerRecord, ResourceStore } from '../../src/clients/resource-store.ts';
import { ConflictError, PreconditionFailedError } from '../../src/errors.ts';

export function sampleResource(indicator: string, extra: Partial<ResourceInput> = {}): ResourceInput {
  return { indicator, name: 'Orders API', accessTokenFormat: 'jwt', accessTokenTtl: 3600, signingAlg: 'ES256', scopes: [], ...extra };
}

const scope = (name: string, description = '', roles: string[] = []) => ({ name, description, roles });

/** The record without its version, which each write sets. */
function unversioned(record: ResourceServerRecord | undefined) {
  assert.ok(record, 'a record');
  assert.ok(record.updatedAt instanceof Date, 'a version');
  const { updatedAt: _version, ...rest } = record;
  return rest;
}

/** `make` gives an empty store each time it is called. */
export function describeResourceStore(make: () => Promise<ResourceStore>): void {
  test('create returns the resource server as given, its scopes ordered by name', async () => {
    const store = await make();
    const created = await store.create(
      sampleResource('https://orders.example.com', {
        accessTokenFormat: 'opaque',
        accessTokenTtl: 300,
        signingAlg: 'RS256',
        scopes: [scope('orders:write', 'Place orders', ['buyer']), scope('orders:read')],
      }),
    );
    assert.deepEqual(unversioned(created), {
      indicator: 'https://orders.example.com',
      name: 'Orders API',
      accessTokenFormat: 'opaque',
      accessTokenTtl: 300,
      signingAlg: 'RS256',
      scopes: [scope('orders:read'), scope('orders:write', 'Place orders', ['buyer'])],
    });
    assert.deepEqual(await store.find('https://orders.example.com'), created);
  });

  test('a resource server without scopes has an empty list', async () => {
    const store = await make();
    assert.deepEqual((await store.create(sampleResource('https://bare.example.com'))).scopes, []);
  });

  test('a second create of a taken indicator is a ConflictError and the first is unchanged', async () => {
    const store = await make();
    const first = await store.create(sampleResource('https://taken.example.com', { name: 'First', scopes: [scope('a')] }));
    await assert.rejects(store.create(sampleResource('https://taken.example.com', { name: 'Second', scopes: [scope('b')] })), (error: unknown) => {
      assert.ok(error instanceof ConflictError, `expected ConflictError, got ${String(error)}`);
      assert.match(error.message, /already exists/);
      return true;
    });
    assert.deepEqual(await store.find('https://taken.example.com'), first);
  });

  test('two concurrent creates of one indicator: exactly one succeeds, and it is the one stored', async () => {
    const store = await make();
    const results = await Promise.allSettled([
      store.create(sampleResource('https://race.example.com', { name: 'Racer A', scopes: [scope('a')] })),
      store.create(sampleResource('https://race.example.com', { name: 'Racer B', scopes: [scope('b')] })),
    ]);
    const fulfilled = results.filter((result) => result.status === 'fulfilled');
    const rejected = results.filter((result) => result.status === 'rejected');
    assert.equal(fulfilled.length, 1);
    assert.ok(rejected[0]?.reason instanceof ConflictError, `expected ConflictError, got ${String(rejected[0]?.reason)}`);
    assert.deepEqual(await store.find('https://race.example.com'), fulfilled[0]!.value);
  });

  test('an unknown indicator is undefined; indicators are compared as stored', async () => {
    const store = await make();
    await store.create(sampleResource('https://api.example.com/v1'));
    assert.equal(await store.find('https://unknown.example.com'), undefined);
    assert.equal(await store.find('https://api.example.com/v1/'), undefined);
    assert.equal(await store.find('https://API.example.com/v1'), undefined);
  });

  test('put creates a resource server that does not exist', async () => {
    const store = await make();
    const put = await store.put(sampleResource('https://declared.example.com', { scopes: [scope('z'), scope('a')] }));
    assert.deepEqual(put.scopes, [scope('a'), scope('z')]);
    assert.deepEqual(await store.find('https://declared.example.com'), put);
  });

  test('put replaces every setting and the whole scope list', async () => {
    const store = await make();
    await store.create(sampleResource('https://replaced.example.com', { name: 'Before', accessTokenTtl: 120, scopes: [scope('a', 'old'), scope('b')] }));
    const replaced = await store.put(sampleResource('https://replaced.example.com', { name: 'After', accessTokenFormat: 'opaque', scopes: [scope('b', 'new', ['admin']), scope('c')] }));
    assert.deepEqual(unversioned(replaced), {
      indicator: 'https://replaced.example.com',
      name: 'After',
      accessTokenFormat: 'opaque',
      accessTokenTtl: 3600,
      signingAlg: 'ES256',
      scopes: [scope('b', 'new', ['admin']), scope('c')],
    });
    assert.deepEqual(await store.find('https://replaced.example.com'), replaced);
  });

  test('put with an empty scope list removes every scope', async () => {
    const store = await make();
    await store.create(sampleResource('https://emptied.example.com', { scopes: [scope('a')] }));
    assert.deepEqual((await store.put(sampleResource('https://emptied.example.com'))).scopes, []);
    assert.deepEqual((await store.find('https://emptied.example.com'))?.scopes, []);
  });

  test('put is atomic: a write that fails part-way leaves the old server and scopes', async () => {
    const store = await make();
    const before = await store.create(sampleResource('https://atomic.example.com', { name: 'Before', scopes: [scope('a'), scope('b')] }));
    // Duplicate scope names (validation refuses them; the store is called directly) fail
    // on the scope key after the old scopes are gone and the name has changed.
    await assert.rejects(store.put(sampleResource('https://atomic.example.com', { name: 'After', scopes: [scope('c'), scope('c')] })), ConflictError);
    assert.deepEqual(await store.find('https://atomic.example.com'), before);
  });

  test('put of one resource server leaves the others alone', async () => {
    const store = await make();
    const other = await store.create(sampleResource('https://other.example.com', { scopes: [scope('a')] }));
    await store.create(sampleResource('https://changed.example.com', { scopes: [scope('a')] }));
    await store.put(sampleResource('https://changed.example.com', { scopes: [scope('b')] }));
    assert.deepEqual(await store.find('https://other.example.com'), other);
  });

  test('list returns every resource server ordered by indicator, each with its scopes', async () => {
    const store = await make();
    const c = await store.create(sampleResource('https://c.example.com', { scopes: [scope('y'), scope('x')] }));
    const a = await store.create(sampleResource('https://a.example.com'));
    const b = await store.put(sampleResource('https://b.example.com', { scopes: [scope('q')] }));
    assert.deepEqual(await store.list(), [a, b, c]);
  });

  test('an empty store lists nothing', async () => {
    const store = await make();
    assert.deepEqual(await store.list(), []);
  });

  test('the stored scopes are copies: changing the input afterwards changes nothing', async () => {
    const store = await make();
    const input = sampleResource('https://copy.example.com', { scopes: [scope('a', '', ['reader'])] });
    await store.create(input);
    input.scopes[0]!.roles.push('admin');
    input.scopes.push(scope('b'));
    assert.deepEqual((await store.find('https://copy.example.com'))?.scopes, [scope('a', '', ['reader'])]);
  });

  test('put with ifUpdatedAt writes onto that version only; a stale or unknown version changes nothing', async () => {
    const store = await make();
    const first = await store.create(sampleResource('https://versioned.example.com', { name: 'First' }));
    await new Promise((resolve) => setTimeout(resolve, 5)); // a later version is a later time
    const second = await store.put(sampleResource('https://versioned.example.com', { name: 'Second' }), { ifUpdatedAt: first.updatedAt });
    assert.equal(second.name, 'Second');
    assert.ok(second.updatedAt.getTime() > first.updatedAt.getTime(), 'a write makes a new version');
    await assert.rejects(store.put(sampleResource('https://versioned.example.com', { name: 'Stale', scopes: [scope('x')] }), { ifUpdatedAt: first.updatedAt }), PreconditionFailedError);
    assert.deepEqual(await store.find('https://versioned.example.com'), second);
    await assert.rejects(store.put(sampleResource('https://never.example.com'), { ifUpdatedAt: first.updatedAt }), PreconditionFailedError);
    assert.equal(await store.find('https://never.example.com'), undefined);
  });

  test('delete removes the resource server with its scopes, once; others stay', async () => {
    const store = await make();
    await store.create(sampleResource('https://doomed.example.com', { scopes: [scope('a')] }));
    const kept = await store.create(sampleResource('https://kept.example.com'));
    assert.equal(await store.delete('https://doomed.example.com'), true);
    assert.equal(await store.find('https://doomed.example.com'), undefined);
    assert.equal(await store.delete('https://doomed.example.com'), false);
    assert.deepEqual(await store.list(), [kept]);
    // Made again, it starts without the old scopes.
    assert.deepEqual((await store.create(sampleResource('https://doomed.example.com'))).scopes, []);
  });
}
