import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';

import { TEST_ENGINE } from '../helpers/test-database.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';
import { basicAuth, postAsClient } from '../helpers/token-endpoint.ts';

// Two instances on one Postgres, each keeping the registry in memory
// (clients/registry-cache.ts): a change made through one of them, or by hand in the
// database, takes effect on the other within the change feed's delay. The promise the
// README makes is one second; a change that is not seen in time fails here.

const JWT_API = 'https://jwt-api.example.com';
const OPAQUE_API = 'https://opaque-api.example.com';
const BOUND_MS = 1_000;

describe('a registry change reaches the other instance', { skip: TEST_ENGINE === 'embedded' && 'the embedded database is one process: there is no other instance' }, () => {
  let first: TestServer;
  let second: TestServer;
  let secret: string;

  before(async () => {
    first = await startTestServer({ LOG_LEVEL: 'silent' }, {
      declare: {
        resources: [
          { indicator: JWT_API, name: 'JWT API', scopes: [{ name: 'read' }, { name: 'write' }], accessTokenFormat: 'jwt' },
          { indicator: OPAQUE_API, name: 'Opaque API', scopes: [{ name: 'read' }], accessTokenFormat: 'opaque' },
        ],
        clients: [
          { clientId: 'svc-1', type: 'service', name: 'Service', grantTypes: ['client_credentials'], scopes: ['read', 'write'], resources: [JWT_API, OPAQUE_API] },
          { clientId: 'rs-1', type: 'resource-server', name: 'API', resources: [JWT_API, OPAQUE_API] },
        ],
      },
    });
    second = await startTestServer({ LOG_LEVEL: 'silent' }, { sameDatabaseAs: first });
    secret = first.declared.clientSecret('svc-1');
  });
  after(async () => {
    await second?.close();
    await first?.close();
  });

  const token = (server: TestServer, clientSecret: string, fields: Record<string, string> = {}) =>
    postAsClient(`${server.issuer}/token`, basicAuth('svc-1', clientSecret), { grant_type: 'client_credentials', resource: JWT_API, scope: 'read', ...fields });

  /** Polls the second instance until `accepted` holds for its answer; returns how long it took. */
  async function seenWithin(ask: () => Promise<Response>, accepted: (response: Response, body: Record<string, unknown>) => boolean, what: string): Promise<number> {
    const started = Date.now();
    for (;;) {
      const response = await ask();
      const body = (await response.json()) as Record<string, unknown>;
      if (accepted(response, body)) return Date.now() - started;
      if (Date.now() - started > BOUND_MS) assert.fail(`${what}: still ${response.status} ${JSON.stringify(body)} after ${BOUND_MS} ms`);
      await sleep(10);
    }
  }

  test('both instances serve the client (and the second keeps it in memory)', async () => {
    for (const server of [first, second, second]) assert.equal((await token(server, secret)).status, 200);
  });

  test('a scope taken from the client on one instance is refused by the other', async () => {
    assert.equal((await token(second, secret, { scope: 'write' })).status, 200);
    await first.services.clients.update('svc-1', { scopes: ['read'] });
    await seenWithin(() => token(second, secret, { scope: 'write' }), (response) => response.status === 400, 'scope write refused');
    assert.equal((await token(second, secret)).status, 200, 'the scope it kept still works');
  });

  test('a rotated secret: the old one is refused by the other instance, the new one taken', async () => {
    const rotated = await first.services.clients.rotateSecret('svc-1');
    const fresh = rotated.clientSecret!;
    await seenWithin(() => token(second, secret), (response) => response.status === 401, 'the old secret refused');
    assert.equal((await token(second, fresh)).status, 200);
    secret = fresh;
  });

  test("revoking the client's tokens on one instance ends its JWTs at the other's introspection", async () => {
    const issued = (await (await token(second, secret)).json()) as { access_token: string };
    const introspect = () => postAsClient(`${second.issuer}/token/introspection`, basicAuth('rs-1', first.declared.clientSecret('rs-1')), { token: issued.access_token });
    assert.equal(((await (await introspect()).json()) as { active: boolean }).active, true);
    await first.services.clients.revokeTokens('svc-1');
    await seenWithin(introspect, (_response, body) => body.active === false, 'the JWT inactive');
  });

  test('a resource server changed by hand in the database (an operator, the CLI) is seen by both', async () => {
    const format = async (server: TestServer) => {
      const body = (await (await token(server, secret, { resource: OPAQUE_API })).json()) as { access_token: string };
      return body.access_token.split('.').length === 3 ? 'jwt' : 'opaque';
    };
    assert.equal(await format(second), 'opaque');
    await first.database.pool.query(`UPDATE resource_servers SET access_token_format = 'jwt' WHERE indicator = $1`, [OPAQUE_API]);
    await seenWithin(
      () => token(second, secret, { resource: OPAQUE_API }),
      (_response, body) => typeof body.access_token === 'string' && body.access_token.split('.').length === 3,
      'tokens for the API are JWTs',
    );
    assert.equal(await format(first), 'jwt');
  });

  test('a client deleted on one instance is unknown to the other', async () => {
    await first.services.clients.delete('svc-1');
    await seenWithin(() => token(second, secret), (response, body) => response.status === 401 && body.error === 'invalid_client', 'invalid_client');
  });
});
