import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { createResourceService, createResourceStore, type ResourceService, type ResourceStore } from '../../src/clients/index.ts';
import { ConflictError } from '../../src/errors.ts';
import { createMigratedDatabase } from '../helpers/test-database.ts';

// The resource service's rules run at unit speed on the in-memory store
// (test/clients/resource-service.unit.test.ts). What stays here needs the database itself: the key
// that refuses a second indicator, also under concurrent creates, and the transaction that
// makes replacing a scope list all or nothing.

let database: Awaited<ReturnType<typeof createMigratedDatabase>>;
let store: ResourceStore;
let resources: ResourceService;
let sequence = 0;
const nextIndicator = () => `https://api${++sequence}.example.com`;

before(async () => {
  database = await createMigratedDatabase();
  store = createResourceStore(database.prisma);
  resources = createResourceService({ store });
});

after(async () => {
  await database?.destroy();
});

const scopeRows = (indicator: string) =>
  database.prisma.resourceScope.findMany({ where: { resourceIndicator: indicator }, orderBy: { name: 'asc' } });
const serverRow = (indicator: string) => database.prisma.resourceServer.findUnique({ where: { indicator } });

describe('creating resource servers', () => {
  test('a second resource server with the same indicator is refused and the first is unchanged', async () => {
    const indicator = nextIndicator();
    await resources.create({ indicator, name: 'First', scopes: [{ name: 'a' }] });
    await assert.rejects(
      resources.create({ indicator, name: 'Second', scopes: [{ name: 'b' }] }),
      (error: unknown) => {
        assert.ok(error instanceof ConflictError, `expected ConflictError, got ${String(error)}`);
        assert.match(error.message, /already exists/);
        return true;
      },
    );
    assert.equal((await serverRow(indicator))?.name, 'First');
    assert.deepEqual((await scopeRows(indicator)).map((scope) => scope.name), ['a']);
  });

  test('two concurrent creates of one indicator: exactly one succeeds and the other is refused', async () => {
    const indicator = nextIndicator();
    const results = await Promise.allSettled([
      resources.create({ indicator, name: 'Racer A', scopes: [{ name: 'a' }] }),
      resources.create({ indicator, name: 'Racer B', scopes: [{ name: 'b' }] }),
    ]);
    const fulfilled = results.filter((result) => result.status === 'fulfilled');
    assert.equal(fulfilled.length, 1, `both creates succeeded; the stored one is ${(await serverRow(indicator))?.name}`);
    const stored = await resources.get(indicator);
    assert.deepEqual(stored, fulfilled[0]!.value);
  });
});

describe('updating resource servers', () => {
  test('replacing the scope list is atomic: a write that fails part-way leaves the old server and scopes', async () => {
    const indicator = nextIndicator();
    await resources.create({ indicator, name: 'Before', scopes: [{ name: 'a' }, { name: 'b' }] });
    // The store is called directly to get past validation: duplicate scope names violate
    // the primary key after the old scopes are deleted and the name is changed.
    await assert.rejects(
      store.put({
        indicator,
        name: 'After',
        accessTokenFormat: 'jwt',
        accessTokenTtl: 3600,
        signingAlg: 'ES256',
        scopes: [
          { name: 'c', description: '', roles: [] },
          { name: 'c', description: '', roles: [] },
        ],
      }),
    );
    assert.equal((await serverRow(indicator))?.name, 'Before');
    assert.deepEqual((await scopeRows(indicator)).map((scope) => scope.name), ['a', 'b']);
  });
});
