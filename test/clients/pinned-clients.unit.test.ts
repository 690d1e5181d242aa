import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';

import { accountPageRegistration, registerAccountPageClient } from '../../src/account-page/index.ts';
import { createClientService, type ClientService } from '../../src/clients/index.ts';
import { createSealer } from '../../src/crypto/index.ts';
import { ConflictError, StartupError } from '../../src/errors.ts';
import { createMemoryClientStore, type MemoryClientStore } from '../fakes/memory-client-store.ts';
import { createMemoryResourceStore } from '../fakes/memory-resource-store.ts';

// Portcullis' own pages' clients are pinned in the registry: whichever surface asks (CLI,
// import file, admin API, console: they all come through this service), only the name and
// the require-MFA flag change, and the client is never deleted; a start puts back whatever
// drifted. Here with the account page's client; the console's is made the same way.

const ISSUER = 'https://id.example.com';
const ID = 'portcullis-account';
const MASTER = 'x'.repeat(40);

let store: MemoryClientStore;
let clients: ClientService;

beforeEach(() => {
  store = createMemoryClientStore();
  clients = createClientService({ store, resources: createMemoryResourceStore(), sealer: createSealer(MASTER), pinned: [accountPageRegistration(ISSUER)] });
});

const conflict = (error: unknown) => error instanceof ConflictError && /Portcullis' own pages/.test(error.message);

describe('a pinned client', () => {
  test('is registered as pinned at the first start', async () => {
    await registerAccountPageClient(clients, ISSUER);
    const client = (await clients.find(ID))!;
    assert.deepEqual([client.type, client.redirectUris, client.grantTypes, client.firstParty, client.authMethod], ['spa', [`${ISSUER}/account/callback`], ['authorization_code'], true, 'none']);
  });

  test('changes only its name and require-MFA flag', async () => {
    await registerAccountPageClient(clients, ISSUER);
    const renamed = await clients.update(ID, { name: 'My account', requireMfa: true });
    assert.deepEqual([renamed.name, renamed.requireMfa], ['My account', true]);
    for (const change of [
      { redirectUris: ['https://evil.example/cb'] },
      { requirePushedRequests: true },
      { firstParty: false },
      { corsOrigins: ['https://evil.example'] },
      { grantTypes: ['authorization_code', 'refresh_token'] },
      { scopes: ['openid'] },
      { postLogoutRedirectUris: ['https://evil.example/bye'] },
    ]) {
      await assert.rejects(clients.update(ID, change), conflict, JSON.stringify(change));
    }
    const after = (await clients.find(ID))!;
    assert.deepEqual([after.redirectUris, after.requirePushedRequests, after.firstParty, after.corsOrigins], [[`${ISSUER}/account/callback`], false, true, []]);
  });

  test('is never deleted, and not made under its id as anything but itself', async () => {
    await assert.rejects(clients.create({ clientId: ID, type: 'spa', name: 'Squatter', redirectUris: ['https://evil.example/cb'] }), conflict);
    await registerAccountPageClient(clients, ISSUER);
    await assert.rejects(clients.delete(ID), conflict);
    assert.ok(await clients.find(ID));
  });

  test('a start puts back what drifted (written to the table directly), keeping the name and require-MFA flag', async () => {
    await registerAccountPageClient(clients, ISSUER);
    await clients.update(ID, { name: 'Kept', requireMfa: true });
    await store.update(ID, { redirectUris: ['https://old-issuer.example/account/callback'], requirePushedRequests: true, corsOrigins: ['https://evil.example'] });
    await registerAccountPageClient(clients, ISSUER);
    const client = (await clients.find(ID))!;
    assert.deepEqual([client.redirectUris, client.requirePushedRequests, client.corsOrigins, client.name, client.requireMfa], [[`${ISSUER}/account/callback`], false, [], 'Kept', true]);
  });

  test('a start with the issuer moved follows it', async () => {
    await registerAccountPageClient(clients, ISSUER);
    const moved = 'https://login.example.com';
    const movedClients = createClientService({ store, resources: createMemoryResourceStore(), sealer: createSealer(MASTER), pinned: [accountPageRegistration(moved)] });
    await registerAccountPageClient(movedClients, moved);
    assert.deepEqual((await movedClients.find(ID))!.redirectUris, [`${moved}/account/callback`]);
  });

  test('a client of that id of another type stops the start (it would be taken over)', async () => {
    const unpinned = createClientService({ store, resources: createMemoryResourceStore(), sealer: createSealer(MASTER) });
    await unpinned.create({ clientId: ID, type: 'service', name: 'An operator’s own' });
    await assert.rejects(registerAccountPageClient(clients, ISSUER), StartupError);
  });

  test('two instances registering it at once: one creates it, the other finds it made (no error)', async () => {
    await Promise.all([registerAccountPageClient(clients, ISSUER), registerAccountPageClient(clients, ISSUER)]);
    assert.ok(await clients.find(ID));
  });
});
