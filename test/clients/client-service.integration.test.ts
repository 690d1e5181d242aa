import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { createClientService, createClientStore, createResourceStore, type ClientService } from '../../src/clients/index.ts';
import { createSealer } from '../../src/crypto/index.ts';
import { ConflictError } from '../../src/errors.ts';
import { createMigratedDatabase } from '../helpers/test-database.ts';

// The client service's rules run at unit speed on in-memory stores
// (test/clients/client-service.unit.test.ts). What stays here needs the database itself: the
// primary key that refuses a taken client id.

const MASTER = 'x'.repeat(40);

let database: Awaited<ReturnType<typeof createMigratedDatabase>>;
let clients: ClientService;
let sequence = 0;
const nextId = () => `client-${++sequence}`;

before(async () => {
  database = await createMigratedDatabase();
  clients = createClientService({ store: createClientStore(database.prisma), resources: createResourceStore(database.prisma), sealer: createSealer(MASTER) });
});

after(async () => {
  await database?.destroy();
});

const inputs = {
  web: { type: 'web', name: 'Web app', redirectUris: ['https://app.example.com/cb'] },
  spa: { type: 'spa', name: 'SPA', redirectUris: ['https://spa.example.com/cb'], corsOrigins: ['https://spa.example.com'] },
} as const;

describe('creating clients', () => {
  test('a custom clientId that is taken is a ConflictError and the first client is unchanged', async () => {
    const clientId = nextId();
    const first = await clients.create({ ...inputs.web, clientId });
    await assert.rejects(clients.create({ ...inputs.spa, clientId }), ConflictError);
    const stored = await clients.get(clientId);
    assert.equal(stored.type, 'web');
    assert.equal(clients.revealSecret(stored), first.clientSecret);
  });
});
