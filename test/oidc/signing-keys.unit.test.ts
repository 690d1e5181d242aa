import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { createSealer, SealedSecretError } from '../../src/crypto/index.ts';
import { loadKeys, missingKeys } from '../../src/oidc/signing-keys.ts';
import { createMemoryKeyStore } from '../fakes/memory-key-store.ts';
import { captureAudit } from '../helpers/capture-audit.ts';

// The key rules (src/oidc/signing-keys.ts) against an in-memory key store: which keys must
// exist, that they are created once and sealed, and how they reach the provider. On both
// databases, with instances racing, see test/oidc/signing-keys.integration.test.ts.

const sealer = createSealer('unit-test-master-secret-long-enough-0123456789');

describe('which keys must exist', () => {
  test('with nothing present: an RS256 and an ES256 signing key and a cookie key', () => {
    assert.deepEqual(missingKeys({ activeSigningAlgs: [], cookieKeys: 0 }), { algs: ['RS256', 'ES256'], cookieKey: true });
  });

  test('only the algorithms without an active key, and no cookie key when one exists', () => {
    assert.deepEqual(missingKeys({ activeSigningAlgs: ['ES256'], cookieKeys: 1 }), { algs: ['RS256'], cookieKey: false });
    assert.deepEqual(missingKeys({ activeSigningAlgs: ['RS256', 'ES256', 'ES256'], cookieKeys: 2 }), { algs: [], cookieKey: false });
  });
});

describe('loading the keys', () => {
  test('the first load creates the keys sealed, records each once, and hands the provider private JWKs', async () => {
    const store = createMemoryKeyStore();
    const audit = captureAudit();
    const keys = await loadKeys(store, sealer, audit);
    assert.deepEqual(keys.jwks.keys.map((key) => key.alg).sort(), ['ES256', 'RS256']);
    for (const key of keys.jwks.keys) {
      assert.ok(key.d, 'the provider receives the private key');
      assert.equal(key.use, 'sig');
    }
    assert.equal(keys.cookieKeys.length, 1);
    const rows = await store.signingKeys();
    for (const row of rows) {
      const jwk = keys.jwks.keys.find((key) => key.kid === row.kid)!;
      assert.ok(!row.sealedJwk.includes(jwk.d!), 'the stored key is sealed');
      assert.deepEqual(JSON.parse(sealer.open(row.sealedJwk)), jwk);
    }
    assert.deepEqual(
      audit.events.map((event) => [event.type, event.actor, (event.data as { use: string }).use]),
      [
        ['key.created', 'system', 'signing'],
        ['key.created', 'system', 'signing'],
        ['key.created', 'system', 'cookie'],
      ],
    );
  });

  test('a later load creates nothing and records nothing: every instance gets the same keys', async () => {
    const store = createMemoryKeyStore();
    const first = await loadKeys(store, sealer);
    const audit = captureAudit();
    const again = await loadKeys(store, sealer, audit);
    assert.deepEqual(again, first);
    assert.deepEqual(audit.events, []);
  });

  test('loads at once create the keys once', async () => {
    const store = createMemoryKeyStore();
    const loads = await Promise.all([loadKeys(store, sealer), loadKeys(store, sealer), loadKeys(store, sealer)]);
    assert.equal(new Set(loads.map((keys) => JSON.stringify(keys))).size, 1);
    assert.equal((await store.signingKeys()).length, 2);
    assert.equal((await store.cookieKeys()).length, 1);
  });

  test('a retired key does not count: its algorithm gets a new active key, listed before it', async () => {
    const store = createMemoryKeyStore();
    const first = await loadKeys(store, sealer);
    const retired = first.jwks.keys.find((key) => key.alg === 'RS256')!;
    store.setStatus(retired.kid, 'retired');
    const keys = await loadKeys(store, sealer);
    const rs256 = keys.jwks.keys.filter((key) => key.alg === 'RS256');
    assert.equal(rs256.length, 2);
    assert.notEqual(rs256[0]!.kid, retired.kid, 'the new active key signs (the first of its alg)');
    assert.equal(rs256[1]!.kid, retired.kid, 'the retired key still verifies');
  });

  test('keys sealed under another master secret are refused, not served', async () => {
    const store = createMemoryKeyStore();
    await loadKeys(store, sealer);
    await assert.rejects(loadKeys(store, createSealer('another-master-secret-that-is-long-enough')), SealedSecretError);
  });
});

