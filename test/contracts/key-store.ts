// The contract every key store keeps (memory: *.unit.test.ts, Prisma on both databases:
// *.integration.test.ts): "look, then change" is one step across concurrent callers, all of a
// plan or none of it is stored, retiring twice reports once, and keys are listed newest first.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { NO_KEY_CHANGES, type KeyChanges, type KeyStore, type PresentKeys } from '../../src/oidc/key-store.ts';

export interface KeyStoreHarness {
  readonly store: KeyStore;
  /** Back to a database without keys. */
  readonly clear: () => Promise<void>;
}

const signingKey = (alg: string, activatesAt = new Date()) => ({ kid: `kid-${randomUUID()}`, alg, sealedJwk: `sealed-${randomUUID()}`, activatesAt });

export function describeKeyStoreContract(harness: () => KeyStoreHarness): void {
  describe('key rows', () => {
    test('a plan sees what is present, and what it returns is stored and reported', async () => {
      const { store, clear } = harness();
      await clear();
      const seen: PresentKeys[] = [];
      const later = new Date(Date.now() + 3_600_000);
      const es = signingKey('ES256', later);
      const added = await store.change((present) => {
        seen.push(present);
        return Promise.resolve({ signing: [es], cookies: [{ sealedSecret: 'sealed-cookie', activatesAt: later }] });
      });
      assert.deepEqual(seen[0]?.signing, []);
      assert.deepEqual(seen[0]?.cookies, []);
      assert.ok(seen[0]?.now instanceof Date);
      assert.deepEqual(added.signing, [{ kid: es.kid, alg: 'ES256', activatesAt: later }]);
      assert.equal(added.cookies.length, 1);
      const [stored] = await store.signingKeys();
      assert.deepEqual({ ...stored, createdAt: undefined }, { kid: es.kid, alg: 'ES256', sealedJwk: es.sealedJwk, activatesAt: later, retiredAt: null, createdAt: undefined });
      const [cookie] = await store.cookieKeys();
      assert.equal(cookie?.id, added.cookies[0]?.id);
      assert.equal(cookie?.sealedSecret, 'sealed-cookie');
      assert.deepEqual(cookie?.activatesAt, later);
      await store.change((present) => {
        seen.push(present);
        return Promise.resolve(NO_KEY_CHANGES);
      });
      assert.deepEqual(seen[1]?.signing.map((key) => [key.kid, key.activatesAt, key.retiredAt]), [[es.kid, later, null]]);
      assert.equal(seen[1]?.cookies.length, 1);
    });

    test('present shows what a plan would see, without the material', async () => {
      const { store, clear } = harness();
      await clear();
      const es = signingKey('ES256');
      await store.change(() => Promise.resolve({ signing: [es], cookies: [{ sealedSecret: 'sealed-cookie', activatesAt: new Date() }] }));
      const seen: PresentKeys[] = [];
      await store.change((present) => {
        seen.push(present);
        return Promise.resolve(NO_KEY_CHANGES);
      });
      const present = await store.present();
      assert.ok(present.now instanceof Date);
      assert.deepEqual(present.signing, seen[0]!.signing);
      assert.deepEqual(present.cookies, seen[0]!.cookies);
      assert.ok(!JSON.stringify(present).includes(es.sealedJwk) && !JSON.stringify(present).includes('sealed-cookie'), 'no sealed material');
    });

    test('concurrent calls run one after another: each plans on what the earlier ones stored', async () => {
      const { store, clear } = harness();
      await clear();
      const plan = (present: PresentKeys): Promise<KeyChanges> =>
        Promise.resolve(present.signing.some((key) => key.alg === 'RS256') ? NO_KEY_CHANGES : { signing: [signingKey('RS256')], cookies: [] });
      const results = await Promise.all(Array.from({ length: 5 }, () => store.change(plan)));
      assert.equal(results.flatMap((result) => result.signing).length, 1);
      assert.equal((await store.signingKeys()).length, 1);
    });

    test('a plan that fails stores nothing, and the store goes on working', async () => {
      const { store, clear } = harness();
      await clear();
      await assert.rejects(
        store.change(() => Promise.reject(new Error('the plan failed'))),
        /the plan failed/,
      );
      const first = signingKey('ES256');
      await assert.rejects(store.change(() => Promise.resolve({ signing: [first, { ...first }], cookies: [{ sealedSecret: 'cookie', activatesAt: new Date() }] })));
      assert.deepEqual(await store.signingKeys(), []);
      assert.deepEqual(await store.cookieKeys(), []);
      await store.change(() => Promise.resolve({ signing: [first], cookies: [] }));
      assert.equal((await store.signingKeys()).length, 1);
    });

    test('keys are listed newest first; a retired key stays listed with its time, and retiring it again reports nothing', async () => {
      const { store, clear } = harness();
      await clear();
      const [older, newer] = [signingKey('ES256'), signingKey('ES256')];
      const [cookieOld] = (await store.change(() => Promise.resolve({ signing: [older], cookies: [{ sealedSecret: 'cookie-old', activatesAt: new Date() }] }))).cookies;
      // Apart in time, so "newest" is well defined on the database's clock.
      await sleep(10);
      const [cookieNew] = (await store.change(() => Promise.resolve({ signing: [newer], cookies: [{ sealedSecret: 'cookie-new', activatesAt: new Date() }] }))).cookies;
      assert.deepEqual((await store.signingKeys()).map((key) => key.kid), [newer.kid, older.kid]);
      assert.deepEqual((await store.cookieKeys()).map((key) => key.id), [cookieNew?.id, cookieOld?.id]);
      const retire = { ...NO_KEY_CHANGES, retireSigning: [older.kid], retireCookies: [cookieOld!.id] };
      const first = await store.change(() => Promise.resolve(retire));
      assert.deepEqual([first.retiredSigning, first.retiredCookies], [[older.kid], [cookieOld!.id]]);
      const again = await store.change(() => Promise.resolve(retire));
      assert.deepEqual([again.retiredSigning, again.retiredCookies], [[], []]);
      const listed = await store.signingKeys();
      assert.deepEqual(listed.map((key) => [key.kid, key.retiredAt !== null]), [[newer.kid, false], [older.kid, true]]);
      assert.ok((await store.cookieKeys()).find((key) => key.id === cookieOld!.id)?.retiredAt instanceof Date);
    });
  });
}
