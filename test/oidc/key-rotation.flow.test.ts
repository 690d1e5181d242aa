import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';

import { withAuditDefaults } from '../../src/audit/index.ts';
import { ConflictError } from '../../src/errors.ts';
import { createKeyPolicy, createKeyRotation, createPrismaKeyStore, type KeyRotation } from '../../src/oidc/index.ts';
import { TEST_ENGINE } from '../helpers/test-database.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';
import { basicAuth, postAsClient } from '../helpers/token-endpoint.ts';

// Announced rotation seen the way a resource server sees it: jose's createRemoteJWKSet,
// caching the JWKS exactly as long as Cache-Control allows and asking again for an unknown
// kid no sooner than that (the strictest cache the header permits), verifies a JWT access
// token (ES256) every 100 ms while a rotation runs through announce -> signing -> retired.
// Short delays: the JWKS may be cached 2 s, keys are re-read every 1 s, a new key signs 4 s
// after it is announced, and tokens live 30 s (the shortest a resource server may ask for).

const MAX_AGE = 2;
const ENV = { JWKS_MAX_AGE: String(MAX_AGE), KEY_REFRESH_INTERVAL: '1', KEY_ANNOUNCE_DELAY: '4', ACCESS_TOKEN_TTL: '30', ID_TOKEN_TTL: '30', RATE_LIMIT_IP: 'off', RATE_LIMIT_TOKEN: 'off', RATE_LIMIT_CLIENT: 'off' };
const API = 'https://orders.example.com';

let server: TestServer;
let rotation: KeyRotation;
let authorization: string;

before(async () => {
  server = await startTestServer(ENV, { background: true });
  await server.services.resources.create({ indicator: API, name: 'Orders', scopes: [{ name: 'orders:read' }], accessTokenFormat: 'jwt', accessTokenTtl: 30 });
  // Every resource server's tokens live 30 s (the built-in account API's too), so the
  // longest token a key may have signed is 30 s.
  for (const resource of await server.services.resources.list()) await server.services.resources.update(resource.indicator, { accessTokenTtl: 30 });
  const created = await server.services.clients.create({ type: 'service', name: 'Order sync', resources: [API], scopes: ['orders:read'] });
  authorization = basicAuth(created.client.clientId, created.clientSecret!);
  rotation = createKeyRotation({ store: createPrismaKeyStore(server.database.prisma), sealer: server.sealer, policy: createKeyPolicy(server.config, server.services.resources), audit: withAuditDefaults(server.auditWriter, { actor: 'cli' }) });
});
after(async () => {
  await server?.close();
});

async function accessToken(): Promise<string> {
  const response = await postAsClient(`${server.issuer}/token`, authorization, { grant_type: 'client_credentials', resource: API, scope: 'orders:read' });
  assert.equal(response.status, 200);
  return ((await response.json()) as { access_token: string }).access_token;
}

async function publishedKids(): Promise<string[]> {
  const response = await fetch(`${server.issuer}/jwks`);
  return ((await response.json()) as { keys: { kid: string }[] }).keys.map((key) => key.kid);
}

/** Asks every 100 ms (each ask is a request) until `holds`, failing after `withinMs`. */
async function eventually(holds: () => Promise<boolean>, what: string, withinMs: number): Promise<void> {
  const started = Date.now();
  while (!(await holds())) {
    if (Date.now() - started > withinMs) assert.fail(`${what}: not within ${withinMs} ms`);
    await sleep(100);
  }
}

const signingKid = (alg: string) => server.keys().jwks.keys.find((key) => key.alg === alg)!.kid;

test(`a resource server caching the JWKS as told verifies every token through a whole ES256 rotation (${TEST_ENGINE})`, { timeout: 120_000 }, async () => {
  const jwksResponse = await fetch(`${server.issuer}/jwks`);
  assert.equal(jwksResponse.headers.get('cache-control'), `public, max-age=${MAX_AGE}`);
  const remote = createRemoteJWKSet(new URL(`${server.issuer}/jwks`), { cacheMaxAge: MAX_AGE * 1000, cooldownDuration: MAX_AGE * 1000 });
  const verify = (token: string) => jwtVerify(token, remote, { issuer: server.issuer, audience: API });

  const oldKid = signingKid('ES256');
  const failures: string[] = [];
  const verifiedBy = new Map<string, number>();
  let lastOldToken: string | undefined;
  let running = true;
  const resourceServer = (async () => {
    while (running) {
      const token = await accessToken();
      const { kid } = decodeProtectedHeader(token);
      try {
        await verify(token);
        verifiedBy.set(kid!, (verifiedBy.get(kid!) ?? 0) + 1);
        if (kid === oldKid) lastOldToken = token;
      } catch (error) {
        failures.push(`${kid}: ${(error as Error).message}`);
      }
      await sleep(100);
    }
  })();

  try {
    // The resource server has cached the JWKS holding only the old key.
    await sleep(500);
    const announced = await rotation.rotate({ algs: ['ES256'] });
    const newKid = announced.signing[0]!.kid;
    assert.deepEqual(announced.signing.map((key) => key.alg), ['ES256']);

    // Published at once (within the re-read interval), before it signs anything.
    await eventually(async () => (await publishedKids()).includes(newKid), 'the announced key is published', 2_500);
    assert.equal(decodeProtectedHeader(await accessToken()).kid, oldKid, 'the announced key does not sign yet');
    await assert.rejects(rotation.rotate({ algs: ['ES256'] }), (error) => error instanceof ConflictError && /already has an announced key/.test(error.message));
    await assert.rejects(rotation.retire(oldKid), (error) => error instanceof ConflictError && /current ES256 signing key/.test(error.message));

    // After the announce delay the new key signs; the old one is still published.
    await eventually(async () => decodeProtectedHeader(await accessToken()).kid === newKid, 'the new key signs', 8_000);
    assert.ok((await publishedKids()).includes(oldKid), 'the old key stays published while its tokens live');
    await assert.rejects(rotation.retire(oldKid), (error) => error instanceof ConflictError && /may still have signed valid tokens until/.test(error.message));

    // A token the old key signed just before the switch still verifies after the resource
    // server refreshed its cache.
    await sleep(MAX_AGE * 1000 + 500);
    assert.ok(lastOldToken);
    await verify(lastOldToken);

    // Once the longest token it signed has expired (30 s + 1 s margin), housekeeping retires it.
    await eventually(async () => !(await publishedKids()).includes(oldKid), 'the old key is retired when its tokens expired', 45_000);
    const listed = await rotation.list();
    assert.equal(listed.find((key) => key.kid === oldKid)?.state, 'retired');
    assert.equal(listed.find((key) => key.kid === newKid)?.state, 'signing');
    await sleep(MAX_AGE * 1000 + 500);
  } finally {
    running = false;
    await resourceServer;
  }
  assert.deepEqual(failures, [], 'the resource server never met a token it could not verify');
  assert.ok((verifiedBy.get(oldKid) ?? 0) > 5 && verifiedBy.size === 2, `tokens of both keys were verified: ${JSON.stringify([...verifiedBy])}`);
  await server.auditWriter.flush();
  const audited = await server.database.prisma.auditEvent.findMany({ where: { type: { in: ['key.created', 'key.retired'] } }, orderBy: { id: 'asc' } });
  assert.deepEqual(
    audited.slice(-2).map((event) => [event.type, (event.data as { kid?: string }).kid]),
    [['key.created', (await rotation.list()).find((key) => key.alg === 'ES256' && key.state === 'signing')?.kid], ['key.retired', oldKid]],
    'the rotation and the retirement are in the audit trail',
  );
});
