// The contract every ClientStore keeps (src/clients/client-store.ts): Prisma on both
// databases (test/clients/client-store.integration.test.ts) and the in-memory fake the unit tests
// of the client service use (test/clients/client-store.unit.test.ts). Where the two could differ,
// the database's behaviour is the rule written here. The store checks nothing about a
// registration: the service validates before it writes.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { ClientData, ClientStore } from '../../src/clients/client-store.ts';
import { ConflictError, NotFoundError } from '../../src/errors.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const JWKS = { keys: [{ kty: 'EC' as const, crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0', kid: 'k1' }] };

export function sampleClient(clientId: string, extra: Partial<ClientData> = {}): ClientData {
  return {
    clientId,
    type: 'web',
    name: 'Web app',
    secretCiphertext: 'v1.sealed.secret',
    authMethod: 'client_secret_basic',
    jwks: null,
    jwksUri: null,
    redirectUris: ['https://app.example.com/cb'],
    postLogoutRedirectUris: [],
    corsOrigins: [],
    grantTypes: ['authorization_code', 'refresh_token'],
    scopes: ['openid', 'email'],
    resources: [],
    exchangeAudiences: [],
    exchangeAct: true,
    firstParty: false,
    requireMfa: false,
    backchannelLogoutUri: null,
    logoUri: null,
    clientUri: null,
    policyUri: null,
    tosUri: null,
    requirePushedRequests: false,
    requireSignedRequests: false,
    ...extra,
  };
}

/** `make` gives an empty store each time it is called. */
export function describeClientStore(make: () => Promise<ClientStore>): void {
  /** Timestamps have millisecond precision: a pause keeps creation order visible. */
  const tick = () => new Promise((resolve) => setTimeout(resolve, 3));

  test('create returns the client as given, with timestamps and a token generation', async () => {
    const store = await make();
    const data = sampleClient('web-client', { corsOrigins: ['https://app.example.com'], resources: ['https://api.example.com'], firstParty: true, logoUri: 'https://app.example.com/logo.png' });
    const created = await store.create(data);
    const { createdAt, updatedAt, tokenGeneration, origin, registrationTokenId, ...rest } = created;
    assert.deepEqual(rest, data);
    assert.match(tokenGeneration, UUID, 'a generation is made when none is given');
    assert.equal(origin, 'operator', 'a client is an operator\'s unless it registered itself');
    assert.equal(registrationTokenId, null);
    assert.ok(createdAt instanceof Date);
    assert.ok(updatedAt instanceof Date);
    assert.deepEqual(await store.findById('web-client'), created);
  });

  test('a given token generation is kept, and each client otherwise gets its own', async () => {
    const store = await make();
    const generation = '11111111-2222-4333-8444-555555555555';
    assert.equal((await store.create(sampleClient('given', { tokenGeneration: generation }))).tokenGeneration, generation);
    const a = await store.create(sampleClient('made-a'));
    const b = await store.create(sampleClient('made-b'));
    assert.notEqual(a.tokenGeneration, b.tokenGeneration);
  });

  test('every client type is stored and read back, resource-server included', async () => {
    const store = await make();
    for (const type of ['web', 'spa', 'native', 'service', 'resource-server'] as const) {
      await store.create(sampleClient(`type-${type}`, { type }));
      assert.equal((await store.findById(`type-${type}`))?.type, type);
    }
  });

  test('a JWK Set and a jwks URI are stored and read back', async () => {
    const store = await make();
    const inline = await store.create(sampleClient('inline-keys', { authMethod: 'private_key_jwt', secretCiphertext: null, jwks: JWKS }));
    assert.deepEqual(inline.jwks, JWKS);
    assert.deepEqual((await store.findById('inline-keys'))?.jwks, JWKS);
    const published = await store.create(sampleClient('published-keys', { authMethod: 'private_key_jwt', secretCiphertext: null, jwksUri: 'https://app.example.com/jwks' }));
    assert.equal(published.jwks, null);
    assert.equal(published.jwksUri, 'https://app.example.com/jwks');
  });

  test('a second client with a taken id is a ConflictError and the first is unchanged', async () => {
    const store = await make();
    const first = await store.create(sampleClient('taken'));
    await assert.rejects(store.create(sampleClient('taken', { type: 'spa', name: 'Other' })), (error: unknown) => {
      assert.ok(error instanceof ConflictError, `expected ConflictError, got ${String(error)}`);
      assert.match(error.message, /already exists/);
      return true;
    });
    assert.deepEqual(await store.findById('taken'), first);
    assert.equal((await store.list()).length, 1);
  });

  test('an unknown id is undefined, and so is an id no client could have, without an error', async () => {
    const store = await make();
    await store.create(sampleClient('known'));
    assert.equal(await store.findById('unknown'), undefined);
    // Client ids are compared as stored.
    assert.equal(await store.findById('KNOWN'), undefined);
    for (const id of ['', 'a\u0000b', 'has space', 'x'.repeat(10_000), '-flag']) {
      assert.equal(await store.findById(id), undefined, JSON.stringify(id.slice(0, 20)));
    }
  });

  test('list returns every client, oldest first', async () => {
    const store = await make();
    const created = [];
    for (const clientId of ['zeta', 'alpha', 'mid']) {
      created.push(await store.create(sampleClient(clientId)));
      await tick();
    }
    assert.deepEqual(await store.list(), created);
  });

  test('an empty store lists nothing', async () => {
    const store = await make();
    assert.deepEqual(await store.list(), []);
  });

  test('update changes the given fields only, replaces whole lists and returns the client', async () => {
    const store = await make();
    const created = await store.create(sampleClient('change', { corsOrigins: ['https://a.example.com'] }));
    await tick();
    const updated = await store.update('change', { name: 'Renamed', redirectUris: ['https://b.example.com/cb', 'https://c.example.com/cb'], scopes: [] });
    assert.equal(updated.name, 'Renamed');
    assert.deepEqual(updated.redirectUris, ['https://b.example.com/cb', 'https://c.example.com/cb']);
    assert.deepEqual(updated.scopes, []);
    assert.deepEqual(updated.corsOrigins, ['https://a.example.com']);
    assert.equal(updated.secretCiphertext, created.secretCiphertext);
    assert.equal(updated.tokenGeneration, created.tokenGeneration);
    assert.equal(updated.createdAt.getTime(), created.createdAt.getTime());
    assert.ok(updated.updatedAt.getTime() > created.updatedAt.getTime(), 'updatedAt moves on');
    assert.deepEqual(await store.findById('change'), updated);
  });

  test('update sets and clears the secret, the keys and the token generation', async () => {
    const store = await make();
    await store.create(sampleClient('keys'));
    const toKeys = await store.update('keys', { authMethod: 'private_key_jwt', secretCiphertext: null, jwks: JWKS });
    assert.equal(toKeys.secretCiphertext, null);
    assert.equal(toKeys.authMethod, 'private_key_jwt');
    assert.deepEqual(toKeys.jwks, JWKS);
    const generation = '66666666-7777-4888-8999-000000000000';
    const back = await store.update('keys', { authMethod: 'client_secret_post', secretCiphertext: 'v1.new', jwks: null, tokenGeneration: generation });
    assert.equal(back.secretCiphertext, 'v1.new');
    assert.equal(back.jwks, null);
    assert.equal(back.tokenGeneration, generation);
    assert.deepEqual(await store.findById('keys'), back);
  });

  test('updating an unknown client is a NotFoundError and creates nothing', async () => {
    const store = await make();
    await assert.rejects(store.update('ghost', { name: 'Ghost' }), (error: unknown) => {
      assert.ok(error instanceof NotFoundError, `expected NotFoundError, got ${String(error)}`);
      assert.match(error.message, /not found/);
      return true;
    });
    // An id no client could have names none either (Postgres refuses a NUL in text).
    await assert.rejects(store.update('a\u0000b', { name: 'Ghost' }), NotFoundError);
    assert.deepEqual(await store.list(), []);
  });

  test('delete removes the client, and deleting an unknown one is a NotFoundError', async () => {
    const store = await make();
    await store.create(sampleClient('kept'));
    await store.create(sampleClient('gone'));
    await store.delete('gone');
    assert.equal(await store.findById('gone'), undefined);
    assert.deepEqual((await store.list()).map((client) => client.clientId), ['kept']);
    await assert.rejects(store.delete('gone'), NotFoundError);
    await assert.rejects(store.delete('a\u0000b'), NotFoundError);
  });

  test('an id is free again once deleted: the new client starts afresh', async () => {
    const store = await make();
    const old = await store.create(sampleClient('reused', { name: 'Old' }));
    await store.delete('reused');
    const fresh = await store.create(sampleClient('reused', { name: 'New', type: 'spa', secretCiphertext: null, authMethod: 'none' }));
    assert.equal(fresh.name, 'New');
    assert.equal(fresh.type, 'spa');
    assert.notEqual(fresh.tokenGeneration, old.tokenGeneration);
  });

  test('the stored lists are copies: changing the arrays given afterwards changes nothing', async () => {
    const store = await make();
    const redirectUris = ['https://app.example.com/cb'];
    await store.create(sampleClient('copy', { redirectUris }));
    redirectUris.push('https://evil.example.com/cb');
    assert.deepEqual((await store.findById('copy'))?.redirectUris, ['https://app.example.com/cb']);
    const scopes = ['openid'];
    await store.update('copy', { scopes });
    scopes.push('admin');
    assert.deepEqual((await store.findById('copy'))?.scopes, ['openid']);
  });
}
