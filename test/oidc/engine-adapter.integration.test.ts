import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { errors, type AdapterPayload } from 'oidc-provider';

import { createSealer } from '../../src/crypto/index.ts';
import { createEngineAdapterFactory, createPrismaTokenStore, createStateSources, hashTokenId, PERSISTED_MODELS } from '../../src/oidc/index.ts';
import { createMigratedDatabase, TEST_ENGINE } from '../helpers/test-database.ts';

// The adapter contract oidc-provider relies on (example/my_adapter.js in its repository),
// on the engine this run uses: embedded by default, Postgres with TEST_DATABASE=postgres.

let database: Awaited<ReturnType<typeof createMigratedDatabase>>;
let adapterFor: ReturnType<typeof createEngineAdapterFactory>;
let store: ReturnType<typeof createPrismaTokenStore>;
const registryClient = { client_id: 'registry-client', client_name: 'From the registry' };
const sealer = createSealer('test-master-secret-that-is-long-enough-0123456789');

before(async () => {
  database = await createMigratedDatabase();
  store = createPrismaTokenStore(database.prisma, database.pool);
  adapterFor = createEngineAdapterFactory({
    sql: database.pool,
    store,
    loadClient: (id) => Promise.resolve(id === registryClient.client_id ? { ...registryClient } : undefined),
    sealer,
  });
  // The client the payloads name: a registration access token belongs to a client that exists (foreign key).
  await database.prisma.client.create({ data: { clientId: 'c1', type: 'web', name: 'C1', authMethod: 'none' } });
});

after(async () => {
  await database?.destroy();
});

const TABLES: Record<string, string> = {
  Session: 'oidc_sessions',
  AuthorizationCode: 'oidc_authorization_codes',
  AccessToken: 'oidc_access_tokens',
  RefreshToken: 'oidc_refresh_tokens',
  ClientCredentials: 'oidc_client_credentials',
  PushedAuthorizationRequest: 'oidc_pushed_authorization_requests',
  DeviceCode: 'oidc_device_codes',
  RegistrationAccessToken: 'oidc_registration_access_tokens',
};

function payload(extra: Partial<AdapterPayload> = {}): AdapterPayload {
  return { jti: randomUUID(), kind: 'Test', iat: Math.floor(Date.now() / 1000), clientId: 'c1', ...extra };
}

describe(`the engine's adapter on ${TEST_ENGINE}`, () => {
  for (const model of PERSISTED_MODELS) {
    test(`${model}: upsert then find returns the payload; a second upsert replaces it`, async () => {
      const adapter = adapterFor(model);
      const id = randomUUID();
      // The engine stores every model under its jti.
      const first = payload({ jti: id, uid: randomUUID(), grantId: 'g-x', accountId: 'a1', nested: { deep: [1, 'two'] } });
      await adapter.upsert(id, first, 60);
      assert.deepEqual(await adapter.find(id), first);
      const second = { ...first, scope: 'openid' };
      await adapter.upsert(id, second, 60);
      assert.deepEqual(await adapter.find(id), second);
    });
  }

  test('find returns undefined for a missing id', async () => {
    assert.equal(await adapterFor('AccessToken').find('missing'), undefined);
  });

  test('find returns undefined for an expired row', async () => {
    const adapter = adapterFor('AccessToken');
    const id = randomUUID();
    await adapter.upsert(id, payload(), 60);
    await database.prisma.oidcAccessToken.update({ where: { id: hashTokenId(id) }, data: { expiresAt: new Date(Date.now() - 1000) } });
    assert.equal(await adapter.find(id), undefined);
  });

  test('a row stored with expiresIn sets its expiry that many seconds ahead', async () => {
    const id = randomUUID();
    await adapterFor('Interaction').upsert(id, payload(), 120);
    const row = await database.prisma.oidcInteraction.findUniqueOrThrow({ where: { id } });
    const seconds = (row.expiresAt!.getTime() - Date.now()) / 1000;
    assert.ok(seconds > 115 && seconds <= 120, `expiry ${seconds}s ahead`);
  });

  test('after consume, find returns the payload with consumed as epoch seconds', async () => {
    const adapter = adapterFor('AuthorizationCode');
    const id = randomUUID();
    await adapter.upsert(id, payload(), 60);
    const before = Math.floor(Date.now() / 1000);
    await adapter.consume(id);
    const found = await adapter.find(id);
    assert.ok(found);
    assert.equal(typeof found.consumed, 'number');
    assert.ok((found.consumed as number) >= before - 1 && (found.consumed as number) <= before + 2);
  });

  for (const [model, spent] of [
    ['AuthorizationCode', errors.InvalidGrant],
    ['RefreshToken', errors.InvalidGrant],
    ['PushedAuthorizationRequest', errors.InvalidRequestUri],
  ] as const) {
    test(`${model}: a second consume fails with ${spent.name}, and of ten concurrent consumes exactly one wins`, async () => {
      const adapter = adapterFor(model);
      const id = randomUUID();
      await adapter.upsert(id, payload(), 60);
      await adapter.consume(id);
      await assert.rejects(adapter.consume(id), spent);

      const raced = randomUUID();
      await adapter.upsert(raced, payload(), 60);
      const results = await Promise.allSettled(Array.from({ length: 10 }, () => adapter.consume(raced)));
      assert.equal(results.filter((result) => result.status === 'fulfilled').length, 1);
      for (const result of results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')) {
        assert.ok(result.reason instanceof spent);
      }
    });
  }

  test('destroy: the row is no longer found', async () => {
    const adapter = adapterFor('Session');
    const id = randomUUID();
    await adapter.upsert(id, payload({ uid: randomUUID() }), 60);
    await adapter.destroy(id);
    assert.equal(await adapter.find(id), undefined);
  });

  // Every request that loaded a session saves it as it finishes: one in flight when the
  // session ends (logout, an operator's sign-out of it or of the account, a password reset)
  // must not bring it back signed in.
  for (const [how, end, carriedOn] of [
    ['the engine destroys it (logout, or its new id at sign-in)', (id: string) => adapterFor('Session').destroy(id), true],
    ['an operator ends that session', async (_id: string, uid: string, account: string) => assert.ok(await store.endSession(account, uid, () => [])), false],
    ['every session of the account ends', async (_id: string, _uid: string, account: string) => assert.equal(await store.endSessions(account), 1), false],
  ] as const) {
    test(`Session: ended when ${how}, a save still in flight does not bring it back`, async () => {
      const adapter = adapterFor('Session');
      const id = randomUUID();
      const uid = randomUUID();
      const account = `acc-${randomUUID()}`;
      const session = payload({ jti: id, uid, accountId: account });
      // A session of a day, saved again by every request that loads it.
      await adapter.upsert(id, session, 86_400);
      const loaded = await adapter.find(id);
      assert.ok(loaded);
      await end(id, uid, account);
      assert.equal(await adapter.find(id), undefined);
      // Kept an hour at most, then housekeeping deletes it.
      const kept = await database.prisma.oidcSession.findUniqueOrThrow({ where: { id: hashTokenId(id) } });
      assert.ok(kept.endedAt);
      assert.ok(kept.expiresAt && kept.expiresAt.getTime() <= Date.now() + 3600_000);
      // The request that had loaded it finishes, and saves it with its rolling lifetime: the
      // save writes nothing, and the request is told the session is over (it must not go on
      // as signed in: a code it made would outlive the end).
      await assert.rejects(adapter.upsert(id, { ...loaded, loginTs: 1 }, 86_400), errors.SessionNotFound);
      assert.equal(await adapter.find(id), undefined, 'still ended');
      assert.equal(await adapter.findByUid(uid), undefined);
      assert.deepEqual(await store.listSessions(account), []);
      assert.equal(await store.endSession(account, uid, () => []), undefined, 'ended once');
      assert.equal(await store.endSessions(account), 0);
      // A request resuming a sign-in or a consent carries the session on under a new id with
      // the same uid (the engine ends the old id first). After the engine's own end of the old
      // id that is the rotation, and goes on; after a sign-out it is refused, however late the
      // request: the session is over.
      const successor = randomUUID();
      await adapter.destroy(id);
      if (carriedOn) {
        await adapter.upsert(successor, { ...session, jti: successor }, 3600);
        assert.deepEqual(await adapter.find(successor), { ...session, jti: successor });
        assert.equal((await adapter.findByUid(uid))?.accountId, account);
      } else {
        await assert.rejects(adapter.upsert(successor, { ...session, jti: successor }, 3600), errors.SessionNotFound);
        assert.equal(await adapter.find(successor), undefined);
        assert.equal(await adapter.findByUid(uid), undefined);
        assert.deepEqual(await store.listSessions(account), []);
      }
    });
  }

  // An operator's sign-out of one browser ends the session and the grants made in it at once:
  // a failure part way leaves both as they were, so the retry ends them all.
  test('Session: ended with the grants made in it in one transaction, and only the account’s own', async () => {
    const adapter = adapterFor('Session');
    const id = randomUUID();
    const uid = randomUUID();
    const account = `acc-${randomUUID()}`;
    const [own, anothers] = [randomUUID(), randomUUID()];
    await adapterFor('Grant').upsert(own, payload({ jti: own, kind: 'Grant', accountId: account, clientId: 'app' }), 600);
    await adapterFor('Grant').upsert(anothers, payload({ jti: anothers, kind: 'Grant', accountId: 'someone-else', clientId: 'app' }), 600);
    const token = randomUUID();
    await adapterFor('AccessToken').upsert(token, payload({ jti: token, grantId: own, accountId: account }), 600);
    await adapter.upsert(id, payload({ jti: id, uid, accountId: account, authorizations: { app: { grantId: own }, other: { grantId: anothers } } }), 600);
    const gauges = createStateSources(database.prisma, () => assert.fail('no keys read'));
    const sessions = () => gauges.activeSessions();
    const live = await sessions();
    const named = (stored: unknown) => Object.values((stored as { authorizations: Record<string, { grantId: string }> }).authorizations).map(({ grantId }) => grantId);

    await assert.rejects(
      store.endSession(account, uid, () => {
        throw new Error('failed part way');
      }),
      /failed part way/,
    );
    assert.equal((await store.listSessions(account)).length, 1, 'the session is still live');
    assert.ok(await database.prisma.oidcGrant.findUnique({ where: { id: own } }), 'its grant too');

    const ended = await store.endSession(account, uid, named);
    assert.deepEqual({ grants: ended?.grants, tokens: ended?.tokens }, { grants: 1, tokens: 1 });
    assert.deepEqual(await store.listSessions(account), []);
    assert.equal(await sessions(), live - 1, 'the active-sessions gauge counts it no more, though its row is kept an hour');
    assert.equal(await database.prisma.oidcGrant.findUnique({ where: { id: own } }), null);
    assert.equal(await adapterFor('AccessToken').find(token), undefined);
    assert.ok(await database.prisma.oidcGrant.findUnique({ where: { id: anothers } }), 'another account’s grant, named in the payload, stays');
  });

  test('Session: one stored without an expiry is kept an hour once ended', async () => {
    const adapter = adapterFor('Session');
    const id = randomUUID();
    await adapter.upsert(id, payload({ jti: id, uid: randomUUID() }), 0);
    assert.equal((await database.prisma.oidcSession.findUniqueOrThrow({ where: { id: hashTokenId(id) } })).expiresAt, null);
    await adapter.destroy(id);
    const kept = await database.prisma.oidcSession.findUniqueOrThrow({ where: { id: hashTokenId(id) } });
    assert.ok(kept.expiresAt && kept.expiresAt.getTime() > Date.now() && kept.expiresAt.getTime() <= Date.now() + 3600_000);
  });

  test('Session: findByUid finds the session by its fixed uid, and not once expired', async () => {
    const adapter = adapterFor('Session');
    const id = randomUUID();
    const uid = randomUUID();
    const session = payload({ jti: id, uid, accountId: 'acc' });
    await adapter.upsert(id, session, 60);
    // Found by uid, the session id (its cookie value) cannot be told: only its hash is kept.
    const { jti: _id, ...withoutId } = session;
    assert.deepEqual(await adapter.findByUid(uid), withoutId);
    await database.prisma.oidcSession.update({ where: { id: hashTokenId(id) }, data: { expiresAt: new Date(Date.now() - 1) } });
    assert.equal(await adapter.findByUid(uid), undefined);
  });

  test('revokeByGrantId removes that grant’s tokens of the model and leaves other grants alone', async () => {
    for (const model of ['AccessToken', 'AuthorizationCode', 'RefreshToken']) {
      const adapter = adapterFor(model);
      const [revoked, kept] = [randomUUID(), randomUUID()];
      await adapter.upsert(revoked, payload({ grantId: 'grant-to-revoke' }), 60);
      await adapter.upsert(kept, payload({ grantId: 'grant-to-keep' }), 60);
      await adapter.revokeByGrantId('grant-to-revoke');
      assert.equal(await adapter.find(revoked), undefined, `${model} of the revoked grant`);
      assert.ok(await adapter.find(kept), `${model} of another grant`);
    }
  });

  test('Grant rows record their account and client for lookups', async () => {
    const id = randomUUID();
    await adapterFor('Grant').upsert(id, payload({ accountId: 'acc-1', clientId: 'client-1' }), 60);
    const row = await database.prisma.oidcGrant.findUniqueOrThrow({ where: { id } });
    assert.equal(row.accountId, 'acc-1');
    assert.equal(row.clientId, 'client-1');
  });

  test('Client is read from the registry and never written through the provider', async () => {
    const adapter = adapterFor('Client');
    assert.deepEqual(await adapter.find('registry-client'), registryClient);
    assert.equal(await adapter.find('unknown'), undefined);
    await assert.rejects(adapter.upsert('x', payload(), 60));
  });

  test('bearer values are stored only as their SHA-256: neither the row id nor the payload holds them', async () => {
    const hashed = ['Session', 'AuthorizationCode', 'AccessToken', 'RefreshToken', 'ClientCredentials', 'PushedAuthorizationRequest', 'DeviceCode', 'RegistrationAccessToken'];
    for (const model of hashed) {
      const value = `secret-${randomUUID()}`;
      await adapterFor(model).upsert(value, payload({ jti: value, uid: randomUUID() }), 60);
      const dump = JSON.stringify(
        await database.prisma.$queryRawUnsafe(`SELECT * FROM ${TABLES[model]} WHERE id = $1`, hashTokenId(value)),
      );
      assert.match(dump, new RegExp(hashTokenId(value)), `${model} is stored under the hash`);
      assert.doesNotMatch(dump, new RegExp(value), `${model} keeps no copy of the value`);
      assert.equal((await adapterFor(model).find(value))?.jti, value, `${model} is found by its value`);
    }
  });

  test('an id holding a NUL byte is simply not found, in every model, never a database error', async () => {
    for (const model of PERSISTED_MODELS) {
      const adapter = adapterFor(model);
      assert.equal(await adapter.find('bad\u0000id'), undefined, model);
      await adapter.destroy('bad\u0000id');
      await adapter.revokeByGrantId('bad\u0000id');
    }
    assert.equal(await adapterFor('Session').findByUid('bad\u0000uid'), undefined);
  });

  test('a model without a table is refused when the engine asks for it', () => {
    assert.throws(() => adapterFor('BackchannelAuthenticationRequest'), /BackchannelAuthenticationRequest has no table/);
  });

  test('device codes need the sealer: a factory without one refuses them', () => {
    const unsealed = createEngineAdapterFactory({ sql: database.pool, store: createPrismaTokenStore(database.prisma, database.pool), loadClient: () => Promise.resolve(undefined) });
    assert.throws(() => unsealed('DeviceCode'), /device codes need the sealer/);
  });

  test('a device code is found by its user code with its value back, live or expired, never by another code', async () => {
    const adapter = adapterFor('DeviceCode');
    const value = `device-${randomUUID()}`;
    const userCode = `U${randomUUID().slice(0, 7).toUpperCase()}`;
    const stored = payload({ jti: value, kind: 'DeviceCode', userCode, exp: Math.floor(Date.now() / 1000) - 5 });
    // Expired for the engine (exp), still kept: the device is told expired_token.
    await adapter.upsert(value, stored, 1);
    assert.deepEqual(await adapter.findByUserCode(userCode), stored);
    assert.deepEqual(await adapter.find(value), stored);
    assert.equal(await adapter.findByUserCode(`${userCode}X`), undefined);
    assert.equal(await adapter.findByUserCode('bad\u0000code'), undefined);
    assert.equal(await adapterFor('AccessToken').findByUserCode(userCode), undefined);
    // Redeemed once; the second is invalid_grant, not a database error.
    await adapter.consume(value);
    await assert.rejects(adapter.consume(value), errors.InvalidGrant);
  });

  test("an interaction's device code is sealed at rest and opened when read", async () => {
    const adapter = adapterFor('Interaction');
    const id = `interaction-${randomUUID()}`;
    const deviceCode = `device-${randomUUID()}`;
    const stored = payload({ jti: id, kind: 'Interaction', deviceCode });
    await adapter.upsert(id, stored, 60);
    const dump = JSON.stringify(await database.prisma.$queryRawUnsafe('SELECT payload FROM oidc_interactions WHERE id = $1', id));
    assert.doesNotMatch(dump, new RegExp(deviceCode));
    assert.deepEqual(await adapter.find(id), stored);
  });

  test('a refresh token is read with its person: the account row, null for an id no account has, nothing for a malformed one', async () => {
    const account = await database.prisma.account.create({ data: { email: `p-${randomUUID()}@adapter.example.com`, name: 'Read along' } });
    const seen: [string, unknown][] = [];
    const withRotation = createEngineAdapterFactory({
      sql: database.pool,
      store: createPrismaTokenStore(database.prisma, database.pool),
      loadClient: () => Promise.resolve(undefined),
      rotation: {
        presentAsUnused: () => true,
        consume: () => Promise.resolve(),
        holdSuccessor: () => false,
        keepGrant: () => {},
        takeGrant: () => undefined,
        keepAccount: (id: string, row: unknown) => void seen.push([id, row]),
        keptAccount: () => undefined,
      },
    })('RefreshToken');
    const missing = randomUUID();
    for (const accountId of [account.id, missing, "x' OR 1=1 --"]) {
      const id = randomUUID();
      await withRotation.upsert(id, payload({ jti: id, kind: 'RefreshToken', accountId }), 60);
      assert.equal((await withRotation.find(id))?.accountId, accountId);
    }
    assert.equal(seen.length, 3);
    assert.deepEqual(seen[0]?.[0], account.id);
    assert.equal((seen[0]?.[1] as { id: string; name: string; disabled: boolean }).name, 'Read along');
    assert.equal((seen[0]?.[1] as { disabled: boolean }).disabled, false);
    assert.deepEqual(seen[1], [missing, null]);
    assert.deepEqual(seen[2], ["x' OR 1=1 --", null]);
  });

  test("in a refresh, the grant read along with the token answers the engine's read of it: gone or expired is no grant, whatever the table says", async () => {
    const grantId = `grant-${randomUUID()}`;
    await adapterFor('Grant').upsert(grantId, payload({ jti: grantId, kind: 'Grant', accountId: 'a1' }), 60);
    let kept: { payload: AdapterPayload; expiresAt: Date | null } | null | undefined;
    const rotation = {
      presentAsUnused: () => true,
      consume: () => Promise.resolve(),
      holdSuccessor: () => false,
      keepGrant: () => {},
      takeGrant: (id: string) => (id === grantId ? kept : undefined),
      keepAccount: () => {},
      keptAccount: () => undefined,
    };
    const withRotation = createEngineAdapterFactory({
      sql: database.pool,
      store: createPrismaTokenStore(database.prisma, database.pool),
      loadClient: () => Promise.resolve(undefined),
      rotation,
    })('Grant');
    kept = null;
    assert.equal(await withRotation.find(grantId), undefined, 'a grant the token read found gone stays gone');
    kept = { payload: { kind: 'Grant', jti: grantId }, expiresAt: new Date(Date.now() - 1000) };
    assert.equal(await withRotation.find(grantId), undefined, 'an expired kept grant is none');
    kept = { payload: { kind: 'Grant', jti: grantId, marker: 'kept' }, expiresAt: null };
    assert.equal((await withRotation.find(grantId))?.marker, 'kept', 'the kept row answers without a read');
    kept = undefined;
    assert.equal((await withRotation.find(grantId))?.accountId, 'a1', 'nothing kept: read from the table');
  });
});
