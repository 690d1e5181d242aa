import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import { createClientService, createResourceService, type ClientService } from '../../src/clients/index.ts';
import { createSealer, SealedSecretError } from '../../src/crypto/index.ts';
import { NotFoundError, ValidationError } from '../../src/errors.ts';
import { createMemoryClientStore, type MemoryClientStore } from '../fakes/memory-client-store.ts';
import { captureAudit } from '../helpers/capture-audit.ts';
import { createMemoryResourceStore } from '../fakes/memory-resource-store.ts';

// The client service's rules on in-memory stores, which keep the same contracts as the
// Prisma stores (test/contracts/). What needs the database itself stays in
// test/clients/client-service.integration.test.ts.

const MASTER = 'x'.repeat(40);
const ORDERS = 'https://orders.example.com';

let store: MemoryClientStore;
let clients: ClientService;
let sequence = 0;
const nextId = () => `client-${++sequence}`;

before(async () => {
  store = createMemoryClientStore();
  const resourceStore = createMemoryResourceStore();
  clients = createClientService({ store, resources: resourceStore, sealer: createSealer(MASTER) });
  await createResourceService({ store: resourceStore }).create({
    indicator: ORDERS,
    name: 'Orders API',
    scopes: [{ name: 'orders:read' }, { name: 'orders:write' }],
  });
});

/** The stored client, or null: what the table holds. */
const row = (clientId: string) => Promise.resolve(store.row(clientId) ?? null);

function assertValidation(pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof ValidationError, `expected ValidationError, got ${String(error)}`);
    assert.match(error.message, pattern);
    return true;
  };
}

const inputs = {
  web: { type: 'web', name: 'Web app', redirectUris: ['https://app.example.com/cb'] },
  spa: { type: 'spa', name: 'SPA', redirectUris: ['https://spa.example.com/cb'], corsOrigins: ['https://spa.example.com'] },
  native: { type: 'native', name: 'Phone app', redirectUris: ['com.example.app:/cb'] },
  service: { type: 'service', name: 'Batch job', resources: [ORDERS], scopes: ['orders:read'] },
  'resource-server': { type: 'resource-server', name: 'Orders API client' },
} as const;

describe('creating clients', () => {
  for (const [type, confidential] of [
    ['web', true],
    ['spa', false],
    ['native', false],
    ['service', true],
    ['resource-server', true],
  ] as const) {
    test(`a ${type} client ${confidential ? 'gets a secret, stored sealed' : 'gets no secret'}`, async () => {
      const clientId = nextId();
      const { client, clientSecret } = await clients.create({ ...inputs[type], clientId });
      assert.equal(client.clientId, clientId);
      assert.equal(client.type, type);
      const stored = await row(clientId);
      assert.ok(stored);
      if (confidential) {
        assert.equal(typeof clientSecret, 'string');
        assert.ok(clientSecret!.length >= 43, 'at least 256 bits, base64url');
        assert.ok(stored.secretCiphertext);
        assert.ok(!stored.secretCiphertext.includes(clientSecret!), 'the secret is stored in plain text');
        assert.equal(clients.revealSecret(client), clientSecret);
        assert.equal(clients.revealSecret(await clients.get(clientId)), clientSecret);
      } else {
        assert.equal(clientSecret, undefined);
        assert.equal(stored.secretCiphertext, null);
        assert.equal(clients.revealSecret(client), undefined);
      }
    });
  }

  test('the stored secret cannot be opened with another master secret', async () => {
    const { client } = await clients.create({ ...inputs.web, clientId: nextId() });
    assert.throws(() => createSealer('y'.repeat(40)).open(client.secretCiphertext!), SealedSecretError);
  });

  test('each confidential client gets its own secret', async () => {
    const a = await clients.create({ ...inputs.web, clientId: nextId() });
    const b = await clients.create({ ...inputs.web, clientId: nextId() });
    assert.notEqual(a.clientSecret, b.clientSecret);
  });

  test('per-type defaults are stored: code flow and OIDC scopes for web, client_credentials and no scopes for service', async () => {
    const web = await clients.create({ ...inputs.web, clientId: nextId() });
    assert.deepEqual(web.client.grantTypes, ['authorization_code', 'refresh_token']);
    assert.deepEqual(web.client.scopes, ['openid', 'email', 'profile', 'offline_access']);
    const service = await clients.create({ type: 'service', name: 'Plain job', clientId: nextId() });
    assert.deepEqual(service.client.grantTypes, ['client_credentials']);
    assert.deepEqual(service.client.scopes, []);
    const rs = await clients.create({ ...inputs['resource-server'], clientId: nextId() });
    assert.deepEqual(rs.client.grantTypes, []);
  });

  test('without a clientId, a random alphanumeric one is generated (never read as a CLI flag)', async () => {
    const { client } = await clients.create(inputs.web);
    assert.match(client.clientId, /^[A-Za-z0-9]{20}$/);
    assert.ok(await row(client.clientId));
  });


  test('a resource that is not registered is a ValidationError and writes no row', async () => {
    const clientId = nextId();
    await assert.rejects(
      clients.create({ ...inputs.service, clientId, resources: ['https://unknown.example.com'] }),
      assertValidation(/^resources: https:\/\/unknown\.example\.com is not a registered resource server$/),
    );
    assert.equal(await row(clientId), null);
  });

  test('a scope offered neither by OIDC nor by the client’s resources is a ValidationError and writes no row', async () => {
    const clientId = nextId();
    await assert.rejects(
      clients.create({ ...inputs.web, clientId, scopes: ['openid', 'admin:everything'] }),
      assertValidation(/^scopes: admin:everything not offered/),
    );
    assert.equal(await row(clientId), null);
  });

  test('a resource scope needs its resource among the client’s resources', async () => {
    const clientId = nextId();
    await assert.rejects(clients.create({ ...inputs.web, clientId, scopes: ['openid', 'orders:read'] }), assertValidation(/^scopes: orders:read/));
    const { client } = await clients.create({ ...inputs.web, clientId, scopes: ['openid', 'orders:read'], resources: [ORDERS] });
    assert.deepEqual(client.scopes, ['openid', 'orders:read']);
    assert.deepEqual(client.resources, [ORDERS]);
  });

  test('invalid input is a ValidationError and writes no row', async () => {
    const clientId = nextId();
    await assert.rejects(clients.create({ type: 'web', name: 'No redirect', clientId }), assertValidation(/^redirectUris: /));
    assert.equal(await row(clientId), null);
  });
});

describe('secrets', () => {
  test('rotateSecret issues a new secret, and only the new one is revealed', async () => {
    const clientId = nextId();
    const created = await clients.create({ ...inputs.service, clientId });
    const before = (await row(clientId))!.secretCiphertext;
    const rotated = await clients.rotateSecret(clientId);
    assert.ok(rotated.clientSecret);
    assert.notEqual(rotated.clientSecret, created.clientSecret);
    const after = (await row(clientId))!.secretCiphertext!;
    assert.notEqual(after, before);
    assert.ok(!after.includes(rotated.clientSecret));
    assert.equal(clients.revealSecret(await clients.get(clientId)), rotated.clientSecret);
  });

  test('a public client has no secret to rotate', async () => {
    const clientId = nextId();
    await clients.create({ ...inputs.spa, clientId });
    await assert.rejects(clients.rotateSecret(clientId), assertValidation(/spa client is public/));
    assert.equal((await row(clientId))!.secretCiphertext, null);
  });

  test('rotating the secret of an unknown client is a NotFoundError', async () => {
    await assert.rejects(clients.rotateSecret('no-such-client'), NotFoundError);
  });
});

describe('updating clients', () => {
  test('a partial update changes only the given fields and keeps the secret', async () => {
    const clientId = nextId();
    const { clientSecret } = await clients.create({ ...inputs.web, clientId });
    const updated = await clients.update(clientId, { name: 'Renamed', corsOrigins: ['https://app.example.com'] });
    assert.equal(updated.name, 'Renamed');
    assert.deepEqual(updated.corsOrigins, ['https://app.example.com']);
    assert.deepEqual(updated.redirectUris, inputs.web.redirectUris);
    assert.deepEqual(updated.grantTypes, ['authorization_code', 'refresh_token']);
    assert.equal(clients.revealSecret(updated), clientSecret);
  });

  test('the merged result is re-validated: removing the last redirect URI of a web client is refused and nothing changes', async () => {
    const clientId = nextId();
    await clients.create({ ...inputs.web, clientId });
    await assert.rejects(clients.update(clientId, { redirectUris: [] }), assertValidation(/^redirectUris: a web client needs at least one redirect URI/));
    await assert.rejects(clients.update(clientId, { redirectUris: ['http://app.example.com/cb'] }), assertValidation(/^redirectUris\.0: /));
    assert.deepEqual((await row(clientId))!.redirectUris, inputs.web.redirectUris);
  });

  test('an update is checked against the registry: an unregistered resource or unknown scope is refused', async () => {
    const clientId = nextId();
    await clients.create({ ...inputs.web, clientId });
    await assert.rejects(clients.update(clientId, { resources: ['https://nope.example.com'] }), assertValidation(/^resources: /));
    await assert.rejects(clients.update(clientId, { scopes: ['openid', 'orders:write'] }), assertValidation(/^scopes: orders:write/));
    const stored = (await row(clientId))!;
    assert.deepEqual(stored.resources, []);
    assert.deepEqual(stored.scopes, ['openid', 'email', 'profile', 'offline_access']);
    const updated = await clients.update(clientId, { resources: [ORDERS], scopes: ['openid', 'orders:write'] });
    assert.deepEqual(updated.scopes, ['openid', 'orders:write']);
  });

  test('the type and the clientId cannot be changed', async () => {
    const clientId = nextId();
    await clients.create({ ...inputs.web, clientId });
    await assert.rejects(clients.update(clientId, { type: 'spa' }), assertValidation(/^type: cannot be changed/));
    await assert.rejects(clients.update(clientId, { clientId: 'another-id' }), assertValidation(/^clientId: cannot be changed/));
    assert.equal((await row(clientId))!.type, 'web');
    assert.equal(await row('another-id'), null);
    // Restating the same values is not a change.
    assert.equal((await clients.update(clientId, { clientId, type: 'web', name: 'Same' })).name, 'Same');
  });

  test('an unknown property in an update is refused', async () => {
    const clientId = nextId();
    await clients.create({ ...inputs.web, clientId });
    await assert.rejects(clients.update(clientId, { secretCiphertext: 'v1.x.y' }), assertValidation(/secretCiphertext/));
  });

  test('updating an unknown client is a NotFoundError', async () => {
    await assert.rejects(clients.update('no-such-client', { name: 'X' }), NotFoundError);
  });
});

describe('deleting clients', () => {
  test('a deleted client is gone', async () => {
    const clientId = nextId();
    await clients.create({ ...inputs.web, clientId });
    await clients.delete(clientId);
    assert.equal(await row(clientId), null);
    assert.equal(await clients.find(clientId), undefined);
    await assert.rejects(clients.get(clientId), NotFoundError);
  });

  test('deleting an unknown client is a NotFoundError', async () => {
    await assert.rejects(clients.delete('no-such-client'), NotFoundError);
  });

  test('list shows created clients and not deleted ones', async () => {
    const kept = nextId();
    const removed = nextId();
    await clients.create({ ...inputs.web, clientId: kept });
    await clients.create({ ...inputs.web, clientId: removed });
    await clients.delete(removed);
    const ids = (await clients.list()).map((client) => client.clientId);
    assert.ok(ids.includes(kept));
    assert.ok(!ids.includes(removed));
  });
});

describe('recording what changes', () => {
  function audited() {
    const audit = captureAudit();
    const store = createMemoryClientStore();
    /** Each revokeClient call, and whether the client's row was still there at that moment. */
    const sweeps: { clientId: string; row: 'present' | 'gone' }[] = [];
    const service = createClientService({
      store,
      resources: createMemoryResourceStore(),
      sealer: createSealer(MASTER),
      audit,
      tokens: {
        revokeClient: async (clientId) => {
          sweeps.push({ clientId, row: (await store.findById(clientId)) ? 'present' : 'gone' });
          return { grants: 1, tokens: 3 };
        },
      },
    });
    return { service, events: audit.events, sweeps };
  }

  test('deleting a client sweeps what it holds while its row is there, and once more after the row is gone', async () => {
    const { service, sweeps } = audited();
    const clientId = nextId();
    await service.create({ ...inputs.web, clientId });
    await service.delete(clientId);
    assert.deepEqual(sweeps, [
      { clientId, row: 'present' },
      { clientId, row: 'gone' },
    ]);
  });

  test('every change to the registry records one event naming the client, never its secret', async () => {
    const { service, events, sweeps } = audited();
    const clientId = nextId();
    const { clientSecret } = await service.create({ ...inputs.web, clientId });
    await service.update(clientId, { name: 'Renamed' });
    const rotated = await service.rotateSecret(clientId, { authMethod: 'client_secret_post' });
    assert.deepEqual(await service.revokeTokens(clientId), { grants: 1, tokens: 3 });
    await service.delete(clientId);
    // revokeTokens once; delete before and after the row goes (a late authorization is swept).
    assert.deepEqual(sweeps.map((sweep) => sweep.clientId), [clientId, clientId, clientId]);
    assert.deepEqual(events, [
      {
        type: 'client.created',
        clientId,
        data: { type: 'web', authMethod: 'client_secret_basic', grantTypes: ['authorization_code', 'refresh_token'], scopes: ['openid', 'email', 'profile', 'offline_access'], resources: [], firstParty: false, requireMfa: false },
      },
      { type: 'client.updated', clientId, data: { fields: ['name'] } },
      { type: 'client.secret_rotated', clientId, data: { authMethod: 'client_secret_post' } },
      { type: 'client.tokens_revoked', clientId, data: { grants: 1, tokens: 3 } },
      { type: 'client.deleted', clientId, data: { grants: 2, tokens: 6 } },
    ]);
    assert.ok(!JSON.stringify(events).includes(clientSecret!));
    assert.ok(!JSON.stringify(events).includes(rotated.clientSecret!));
  });

  test('revoking a client’s tokens gives it a new token generation, so its earlier JWTs stop verifying', async () => {
    const { service } = audited();
    const clientId = nextId();
    const { client } = await service.create({ ...inputs.service, clientId, resources: [], scopes: [] });
    await service.revokeTokens(clientId);
    assert.notEqual((await service.get(clientId)).tokenGeneration, client.tokenGeneration);
  });

  test('a refused change records nothing', async () => {
    const { service, events } = audited();
    const clientId = nextId();
    await assert.rejects(service.create({ type: 'web', name: 'No redirect', clientId }), ValidationError);
    await assert.rejects(service.rotateSecret('no-such-client'), NotFoundError);
    await assert.rejects(service.delete('no-such-client'), NotFoundError);
    assert.deepEqual(events, []);
  });
});

describe('secret rotation rules', () => {
  test('a client that signs with its key gets a secret only by naming a secret method, which drops its keys', async () => {
    const clientId = nextId();
    await clients.create({ ...inputs.service, clientId, resources: [], scopes: [], authMethod: 'private_key_jwt', jwksUri: 'https://batch.example.com/jwks' });
    assert.equal((await row(clientId))!.secretCiphertext, null);
    await assert.rejects(clients.rotateSecret(clientId), assertValidation(/authenticates with private_key_jwt and has no secret/));
    await assert.rejects(clients.rotateSecret(clientId, { authMethod: 'private_key_jwt' }), assertValidation(/^authMethod: a secret is sent with/));
    const rotated = await clients.rotateSecret(clientId, { authMethod: 'client_secret_basic' });
    assert.equal(rotated.client.authMethod, 'client_secret_basic');
    assert.equal(rotated.client.jwksUri, null);
    assert.equal(clients.revealSecret(rotated.client), rotated.clientSecret);
  });

  test('an update cannot switch a keyed client to a secret method, and switching to keys drops the secret', async () => {
    const keyed = nextId();
    await clients.create({ ...inputs.service, clientId: keyed, resources: [], scopes: [], authMethod: 'private_key_jwt', jwksUri: 'https://batch.example.com/jwks' });
    await assert.rejects(clients.update(keyed, { authMethod: 'client_secret_post', jwksUri: null }), assertValidation(/^authMethod: client .* has no secret/));
    const secret = nextId();
    await clients.create({ ...inputs.service, clientId: secret, resources: [], scopes: [] });
    const moved = await clients.update(secret, { authMethod: 'private_key_jwt', jwksUri: 'https://batch.example.com/jwks' });
    assert.equal(moved.secretCiphertext, null);
    assert.equal(clients.revealSecret(moved), undefined);
  });
});
