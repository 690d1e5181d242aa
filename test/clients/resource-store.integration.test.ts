import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';

import { createClientService, createClientStore, createResourceStore } from '../../src/clients/index.ts';
import { createSealer } from '../../src/crypto/index.ts';
import { ConflictError, ValidationError } from '../../src/errors.ts';
import { describeResourceStore, sampleResource } from '../contracts/resource-store.ts';
import { createMigratedDatabase, TEST_ENGINE } from '../helpers/test-database.ts';

let database: Awaited<ReturnType<typeof createMigratedDatabase>>;

before(async () => {
  database = await createMigratedDatabase();
});

after(async () => {
  await database?.destroy();
});

describe(`the Prisma resource server store (${TEST_ENGINE} database)`, () => {
  describeResourceStore(async () => {
    // Each contract test starts from empty tables (the scopes go with their server).
    await database.prisma.client.deleteMany();
    await database.prisma.resourceServer.deleteMany();
    return createResourceStore(database.prisma);
  });
});

// What needs the clients table beside it: a resource server is never deleted from under a
// client registered for it, even when the registration and the delete race.
describe(`deleting a resource server that clients name (${TEST_ENGINE} database)`, () => {
  const scopes = [{ name: 'r:read', description: '', roles: [] }];
  const services = () => {
    const resources = createResourceStore(database.prisma);
    return { resources, clients: createClientService({ store: createClientStore(database.prisma), resources, sealer: createSealer('x'.repeat(40)) }) };
  };

  test('refused while a client is registered for it, naming the client; allowed once none is', async () => {
    const { resources, clients } = services();
    await resources.create(sampleResource('https://held.example.com', { scopes }));
    const { client } = await clients.create({ type: 'service', name: 'Holder', resources: ['https://held.example.com'], scopes: ['r:read'] });
    await assert.rejects(resources.delete('https://held.example.com'), (error: Error) => error instanceof ConflictError && error.message.includes(client.clientId));
    assert.ok(await resources.find('https://held.example.com'));
    await clients.update(client.clientId, { resources: [], scopes: [] });
    assert.equal(await resources.delete('https://held.example.com'), true);
  });

  test('a registration racing the delete: either the client holds a resource server that stays, or it is refused; never a client naming one that is gone', async () => {
    const { resources, clients } = services();
    for (let round = 0; round < 24; round++) {
      const indicator = `https://race-${round}.example.com`;
      await resources.create(sampleResource(indicator, { scopes }));
      const [created] = await Promise.allSettled([
        clients.create({ type: 'service', name: `Racer ${round}`, resources: [indicator], scopes: ['r:read'] }),
        delay(round % 4).then(() => resources.delete(indicator)),
      ]);
      const stays = (await resources.find(indicator)) !== undefined;
      const holders = (await clients.list()).filter((candidate) => candidate.resources.includes(indicator));
      assert.ok(stays || holders.length === 0, `round ${round}: a client names ${indicator}, which is gone`);
      if (created.status === 'rejected') assert.ok(created.reason instanceof ValidationError, `round ${round}: ${String(created.reason)}`);
    }
  });
});
