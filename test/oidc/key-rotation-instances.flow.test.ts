import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { createKeyPolicy, createKeyRotation, createPrismaKeyStore, type KeyRotation } from '../../src/oidc/index.ts';
import { TEST_ENGINE } from '../helpers/test-database.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// Two instances on one Postgres: a key change made elsewhere (here through the key store,
// as the CLI does) reaches both without a restart, through the change feed, and both
// publish the same JWKS. The periodic re-read is set to 30 s here, so only the feed can
// make the one-second bound.

const BOUND_MS = 1_000;
const ENV = { LOG_LEVEL: 'silent', JWKS_MAX_AGE: '1', KEY_REFRESH_INTERVAL: '30', KEY_ANNOUNCE_DELAY: '32', RATE_LIMIT_IP: 'off' };

describe('a key change reaches every instance', { skip: TEST_ENGINE === 'embedded' && 'the embedded database is one process: there is no other instance' }, () => {
  let first: TestServer;
  let second: TestServer;
  let rotation: KeyRotation;

  before(async () => {
    first = await startTestServer(ENV, { background: true });
    second = await startTestServer(ENV, { sameDatabaseAs: first, background: true });
    rotation = createKeyRotation({ store: createPrismaKeyStore(first.database.prisma), sealer: first.sealer, policy: createKeyPolicy(first.config, first.services.resources) });
  });
  after(async () => {
    await second?.close();
    await first?.close();
  });

  const jwks = async (server: TestServer) => ((await (await fetch(`${server.issuer}/jwks`)).json()) as { keys: { kid: string }[] }).keys.map((key) => key.kid);

  async function bothWithin(holds: (kids: string[]) => boolean, what: string): Promise<number> {
    const started = Date.now();
    for (;;) {
      const [a, b] = await Promise.all([jwks(first), jwks(second)]);
      if (holds(a) && holds(b)) {
        assert.deepEqual(a, b, 'both instances publish the same JWKS');
        return Date.now() - started;
      }
      if (Date.now() - started > BOUND_MS) assert.fail(`${what}: not on both instances within ${BOUND_MS} ms (${JSON.stringify([a, b])})`);
      await sleep(20);
    }
  }

  test('both publish the same JWKS, an announced key on both within a second, and a retired one gone from both', async (t) => {
    assert.deepEqual(await jwks(first), await jwks(second));
    const announced = await rotation.rotate({ algs: ['ES256', 'RS256'] });
    const kids = announced.signing.map((key) => key.kid);
    const seenMs = await bothWithin((published) => kids.every((kid) => published.includes(kid)), 'the announced keys');
    // The announced keys verify but do not sign: each instance's signing key of each alg is unchanged.
    for (const server of [first, second]) {
      const signing = server.keys().jwks.keys.slice(0, 2).map((key) => key.kid);
      assert.ok(kids.every((kid) => !signing.includes(kid)), 'an announced key is not first for its alg');
    }
    await rotation.retire(kids[0]!);
    const goneMs = await bothWithin((published) => !published.includes(kids[0]!) && published.includes(kids[1]!), 'the retired key withdrawn');
    t.diagnostic(`announced keys on both instances after ${seenMs} ms, the retired one gone from both after ${goneMs} ms`);
  });
});
