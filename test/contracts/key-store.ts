// The contract every key store keeps (memory: *.unit.test.ts, Prisma on both databases:
// *.integration.test.ts): "add what is missing" is one step across concurrent callers, all of a
// plan or none of it is stored, and keys are listed in the order the provider uses them.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import type { KeyStore, NewKeys, PresentKeys } from '../../src/oidc/key-store.ts';

export interface KeyStoreHarness {
  readonly store: KeyStore;
  /** Marks a signing key retired, as a key rotation would. */
  readonly retire: (kid: string) => Promise<void>;
  /** Back to a database without keys. */
  readonly clear: () => Promise<void>;
}

const signingKey = (alg: string) => ({ kid: `kid-${randomUUID()}`, alg, sealedJwk: `sealed-${randomUUID()}` });
const nothing: NewKeys = { signing: [], sealedCookieSecrets: [] };

export function describeKeyStoreContract(harness: () => KeyStoreHarness): void {
  describe('key rows', () => {
    test('a plan sees what is present, and what it returns is stored and reported', async () => {
      const { store, clear } = harness();
      await clear();
      const seen: PresentKeys[] = [];
      const es = signingKey('ES256');
      const added = await store.addMissing((present) => {
        seen.push(present);
        return Promise.resolve({ signing: [es], sealedCookieSecrets: ['sealed-cookie'] });
      });
      assert.deepEqual(seen[0], { activeSigningAlgs: [], cookieKeys: 0 });
      assert.deepEqual(added.signing, [{ kid: es.kid, alg: 'ES256' }]);
      assert.equal(added.cookieKeyIds.length, 1);
      assert.deepEqual(await store.signingKeys(), [{ kid: es.kid, alg: 'ES256', status: 'active', sealedJwk: es.sealedJwk }]);
      assert.deepEqual(await store.cookieKeys(), [{ id: added.cookieKeyIds[0], sealedSecret: 'sealed-cookie' }]);
      await store.addMissing((present) => {
        seen.push(present);
        return Promise.resolve(nothing);
      });
      assert.deepEqual(seen[1], { activeSigningAlgs: ['ES256'], cookieKeys: 1 });
    });

    test('concurrent calls run one after another: each plans on what the earlier ones stored', async () => {
      const { store, clear } = harness();
      await clear();
      const plan = (present: PresentKeys): Promise<NewKeys> =>
        Promise.resolve(present.activeSigningAlgs.includes('RS256') ? nothing : { signing: [signingKey('RS256')], sealedCookieSecrets: [] });
      const results = await Promise.all(Array.from({ length: 5 }, () => store.addMissing(plan)));
      assert.equal(results.flatMap((result) => result.signing).length, 1);
      assert.equal((await store.signingKeys()).length, 1);
    });

    test('a plan that fails stores nothing, and the store goes on working', async () => {
      const { store, clear } = harness();
      await clear();
      await assert.rejects(
        store.addMissing(() => Promise.reject(new Error('the plan failed'))),
        /the plan failed/,
      );
      const first = signingKey('ES256');
      await assert.rejects(store.addMissing(() => Promise.resolve({ signing: [first, { ...first }], sealedCookieSecrets: ['cookie'] })));
      assert.deepEqual(await store.signingKeys(), []);
      assert.deepEqual(await store.cookieKeys(), []);
      await store.addMissing(() => Promise.resolve({ signing: [first], sealedCookieSecrets: [] }));
      assert.equal((await store.signingKeys()).length, 1);
    });

    test('signing keys are listed active before retired, newest first; cookie keys newest first', async () => {
      const { store, clear, retire } = harness();
      await clear();
      const [older, newer] = [signingKey('ES256'), signingKey('ES256')];
      const [cookieOld] = (await store.addMissing(() => Promise.resolve({ signing: [older], sealedCookieSecrets: ['cookie-old'] }))).cookieKeyIds;
      // Apart in time, so "newest" is well defined on the database's clock.
      await sleep(10);
      const [cookieNew] = (await store.addMissing(() => Promise.resolve({ signing: [newer], sealedCookieSecrets: ['cookie-new'] }))).cookieKeyIds;
      assert.deepEqual((await store.signingKeys()).map((key) => key.kid), [newer.kid, older.kid]);
      assert.deepEqual((await store.cookieKeys()).map((key) => key.id), [cookieNew, cookieOld]);
      await retire(newer.kid);
      const listed = await store.signingKeys();
      assert.deepEqual(listed.map((key) => [key.kid, key.status]), [[older.kid, 'active'], [newer.kid, 'retired']]);
    });
  });
}
