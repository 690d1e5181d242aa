import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { createResourceService, createResourceStore, type ResourceService, type ResourceStore } from '../../src/clients/index.ts';
import { ConflictError, NotFoundError, ValidationError } from '../../src/errors.ts';
import { createMigratedDatabase } from '../helpers/test-database.ts';

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

function assertValidation(pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof ValidationError, `expected ValidationError, got ${String(error)}`);
    assert.match(error.message, pattern);
    return true;
  };
}

describe('creating resource servers', () => {
  test('a resource server is created with its scopes and the defaults', async () => {
    const indicator = nextIndicator();
    const created = await resources.create({
      indicator,
      name: 'Orders API',
      scopes: [{ name: 'orders:write', description: 'Place orders' }, { name: 'orders:read' }],
    });
    assert.equal(created.indicator, indicator);
    assert.equal(created.name, 'Orders API');
    assert.equal(created.accessTokenFormat, 'jwt');
    assert.equal(created.accessTokenTtl, 3600);
    assert.equal(created.signingAlg, 'ES256');
    assert.deepEqual(created.scopes, [
      { name: 'orders:read', description: '', roles: [] },
      { name: 'orders:write', description: 'Place orders', roles: [] },
    ]);
    assert.deepEqual(
      (await scopeRows(indicator)).map((scope) => scope.name),
      ['orders:read', 'orders:write'],
    );
    assert.deepEqual(await resources.get(indicator), created);
  });

  test('the token format, lifetime and signing algorithm can be chosen', async () => {
    const indicator = nextIndicator();
    const created = await resources.create({ indicator, name: 'Opaque API', accessTokenFormat: 'opaque', accessTokenTtl: 300, signingAlg: 'RS256' });
    assert.equal(created.accessTokenFormat, 'opaque');
    assert.equal(created.accessTokenTtl, 300);
    assert.equal(created.signingAlg, 'RS256');
  });

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

  test('an indicator with a fragment, or that is not an absolute URL, is a ValidationError and writes nothing', async () => {
    for (const indicator of ['https://api.example.com/#v1', 'not a url', '/relative/path', '']) {
      await assert.rejects(resources.create({ indicator, name: 'Bad', scopes: [{ name: 'a' }] }), assertValidation(/^indicator: /), indicator);
      assert.equal(await serverRow(indicator), null);
      assert.equal((await scopeRows(indicator)).length, 0);
    }
  });

  test('an indicator with an empty fragment ("#") is refused', async () => {
    // RFC 8707 section 2: the resource indicator MUST NOT include a fragment component.
    const indicator = 'https://empty-fragment.example.com/#';
    await assert.rejects(resources.create({ indicator, name: 'Bad' }), assertValidation(/^indicator: /));
    assert.equal(await serverRow(indicator), null);
  });

  test('bad scopes, names and settings are ValidationErrors naming the field, and write nothing', async () => {
    const indicator = nextIndicator();
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ scopes: [{ name: 'a' }, { name: 'a' }] }, /^scopes: scope names must be unique/],
      [{ scopes: [{ name: 'has space' }] }, /^scopes\.0\.name: /],
      [{ scopes: [{ name: 'a', extra: true }] }, /^scopes\.0: .*extra/],
      [{ name: '  ' }, /^name: must not be empty/],
      [{ accessTokenTtl: 5 }, /^accessTokenTtl: /],
      [{ signingAlg: 'HS256' }, /^signingAlg: /],
      [{ accessTokenFormat: 'paseto' }, /^accessTokenFormat: /],
      [{ owner: 'me' }, /owner/],
    ];
    for (const [change, pattern] of cases) {
      await assert.rejects(resources.create({ indicator, name: 'API', ...change }), assertValidation(pattern), JSON.stringify(change));
    }
    assert.equal(await serverRow(indicator), null);
  });
});

describe('updating resource servers', () => {
  test('an update with scopes replaces the whole scope list', async () => {
    const indicator = nextIndicator();
    await resources.create({ indicator, name: 'API', scopes: [{ name: 'a' }, { name: 'b' }] });
    const updated = await resources.update(indicator, { scopes: [{ name: 'b', description: 'kept, described' }, { name: 'c' }] });
    assert.deepEqual(updated.scopes, [
      { name: 'b', description: 'kept, described', roles: [] },
      { name: 'c', description: '', roles: [] },
    ]);
    assert.deepEqual((await scopeRows(indicator)).map((scope) => scope.name), ['b', 'c']);
  });

  test('an update without scopes keeps them and changes only the given fields', async () => {
    const indicator = nextIndicator();
    await resources.create({ indicator, name: 'API', scopes: [{ name: 'a', description: 'first' }] });
    const updated = await resources.update(indicator, { name: 'Renamed API', accessTokenTtl: 120 });
    assert.equal(updated.name, 'Renamed API');
    assert.equal(updated.accessTokenTtl, 120);
    assert.deepEqual(updated.scopes, [{ name: 'a', description: 'first', roles: [] }]);
  });

  test('an update with invalid scopes is refused and the old scopes stay', async () => {
    const indicator = nextIndicator();
    await resources.create({ indicator, name: 'API', scopes: [{ name: 'a' }] });
    await assert.rejects(resources.update(indicator, { scopes: [{ name: 'x' }, { name: 'x' }] }), assertValidation(/^scopes: /));
    assert.deepEqual((await scopeRows(indicator)).map((scope) => scope.name), ['a']);
  });

  test('the indicator cannot be changed', async () => {
    const indicator = nextIndicator();
    await resources.create({ indicator, name: 'API' });
    await assert.rejects(resources.update(indicator, { indicator: 'https://moved.example.com' }), assertValidation(/^indicator: cannot be changed/));
    assert.equal(await serverRow('https://moved.example.com'), null);
  });

  test('updating an unknown resource server is a NotFoundError', async () => {
    await assert.rejects(resources.update('https://unknown.example.com', { name: 'X' }), NotFoundError);
    await assert.rejects(resources.get('https://unknown.example.com'), NotFoundError);
  });

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

describe('put and list', () => {
  test('put creates a resource server and then replaces it', async () => {
    const indicator = nextIndicator();
    await resources.put({ indicator, name: 'Declared', scopes: [{ name: 'a' }] });
    const replaced = await resources.put({ indicator, name: 'Redeclared', scopes: [{ name: 'z' }] });
    assert.equal(replaced.name, 'Redeclared');
    assert.deepEqual(replaced.scopes, [{ name: 'z', description: '', roles: [] }]);
    // put replaces the whole record: omitted settings go back to their defaults.
    assert.equal(replaced.accessTokenTtl, 3600);
  });

  test('list returns every resource server ordered by indicator, with scopes', async () => {
    const listed = await resources.list();
    const indicators = listed.map((resource) => resource.indicator);
    assert.ok(indicators.length >= 2);
    assert.deepEqual(indicators, [...indicators].sort());
    assert.ok(listed.every((resource) => Array.isArray(resource.scopes)));
  });
});
