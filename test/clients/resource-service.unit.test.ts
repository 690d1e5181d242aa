import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import { createResourceService, type ResourceService, type ResourceStore } from '../../src/clients/index.ts';
import { ConflictError, NotFoundError, ValidationError } from '../../src/errors.ts';
import { createMemoryResourceStore } from '../fakes/memory-resource-store.ts';

// The resource service's rules on the in-memory store, which keeps the same contract as the
// Prisma store (test/contracts/resource-store.ts). What needs the database itself (the key
// under concurrent creates, the transaction of a replace) stays in
// test/clients/resource-service.integration.test.ts.

let store: ResourceStore;
let resources: ResourceService;
let sequence = 0;
const nextIndicator = () => `https://api${++sequence}.example.com`;

before(() => {
  store = createMemoryResourceStore();
  resources = createResourceService({ store });
});

/** What the tables hold: the scope rows of a server (by name) and the server, or null. */
const scopeRows = async (indicator: string) => (await store.find(indicator))?.scopes ?? [];
const serverRow = async (indicator: string) => (await store.find(indicator)) ?? null;

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

describe('a pinned resource server (the admin API’s own), whichever surface writes it', () => {
  const OWN = 'https://id.example.com/admin';
  const bound = [
    { name: 'admin:read', roles: ['admin'] },
    { name: 'admin:write', roles: ['admin'] },
  ];
  let pinned: ResourceService;
  before(async () => {
    pinned = createResourceService({ store: createMemoryResourceStore(), pinned: [{ indicator: OWN, roleBoundScopes: ['admin:read', 'admin:write'] }] });
    await pinned.create({ indicator: OWN, name: 'Admin API', scopes: bound });
  });

  test('its scopes keep a role through update and put; a change of anything else passes', async () => {
    await assert.rejects(pinned.update(OWN, { scopes: [{ name: 'admin:read', roles: ['admin'] }, { name: 'admin:write' }] }), assertValidation(/admin:write must stay, bound to a role/));
    await assert.rejects(pinned.update(OWN, { scopes: [{ name: 'admin:read', roles: ['admin'] }] }), assertValidation(/admin:write must stay/));
    await assert.rejects(pinned.put({ indicator: OWN, name: 'Admin API', scopes: [{ name: 'admin:read' }, { name: 'admin:write' }] }), assertValidation(/admin:read must stay/));
    assert.deepEqual((await pinned.get(OWN)).scopes.map((scope) => [scope.name, scope.roles]), [['admin:read', ['admin']], ['admin:write', ['admin']]]);
    assert.equal((await pinned.update(OWN, { accessTokenTtl: 240, scopes: [...bound, { name: 'admin:audit', roles: [] }] })).accessTokenTtl, 240);
  });

  test('it is never deleted; others are', async () => {
    await assert.rejects(pinned.delete(OWN), ConflictError);
    assert.ok(await pinned.find(OWN));
    const other = nextIndicator();
    await pinned.create({ indicator: other, name: 'Other' });
    assert.equal(await pinned.delete(other), true);
  });

  test('made anew (an import before the admin API was on) it must be bound too', async () => {
    const fresh = createResourceService({ store: createMemoryResourceStore(), pinned: [{ indicator: OWN, roleBoundScopes: ['admin:read', 'admin:write'] }] });
    await assert.rejects(fresh.create({ indicator: OWN, name: 'Admin API', scopes: [{ name: 'admin:read' }, { name: 'admin:write' }] }), assertValidation(/must stay/));
  });
});
