import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { createSealer, SealedSecretError } from '../../src/crypto/index.ts';
import type { LifecyclePolicy } from '../../src/oidc/key-lifecycle.ts';
import { createMissing, loadKeys as load } from '../../src/oidc/signing-keys.ts';
import type { KeyStore } from '../../src/oidc/key-store.ts';
import type { AuditSink } from '../../src/audit/index.ts';
import { createMemoryKeyStore } from '../fakes/memory-key-store.ts';
import { captureAudit } from '../helpers/capture-audit.ts';

// The key rules (src/oidc/signing-keys.ts) against an in-memory key store: which keys must
// exist, that they are created once and sealed, and how they reach the provider. On both
// databases, with instances racing, see test/oidc/signing-keys.integration.test.ts.

const sealer = createSealer('unit-test-master-secret-long-enough-0123456789');
const policy: LifecyclePolicy = { lifetimeSeconds: () => 600, marginSeconds: 60 };
const loadKeys = (store: KeyStore, with_: typeof sealer, audit?: AuditSink) => load(store, with_, policy, audit);
const NOW = new Date('2026-12-05T08:00:00Z');
const present = (signing: string[], cookies: number) => ({
  now: NOW,
  signing: signing.map((alg, index) => ({ kid: `k${index}`, alg, createdAt: NOW, activatesAt: NOW, retiredAt: null })),
  cookies: Array.from({ length: cookies }, (_, index) => ({ id: index + 1, createdAt: NOW, activatesAt: NOW, retiredAt: null })),
});

describe('which keys must exist', () => {
  test('with nothing present: an RS256 and an ES256 signing key and a cookie key, signing at once', async () => {
    const planned = await createMissing(sealer)(present([], 0));
    assert.deepEqual(planned.signing.map((key) => [key.alg, key.activatesAt]), [['RS256', NOW], ['ES256', NOW]]);
    assert.deepEqual(planned.cookies.map((key) => key.activatesAt), [NOW]);
  });

  test('only the algorithms without an unretired key, and no cookie key when one exists', async () => {
    assert.deepEqual((await createMissing(sealer)(present(['ES256'], 1))).signing.map((key) => key.alg), ['RS256']);
    const full = await createMissing(sealer)(present(['RS256', 'ES256', 'ES256'], 2));
    assert.deepEqual([full.signing, full.cookies], [[], []]);
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
      audit.events.map((event) => [event.type, (event.data as { use: string }).use]),
      [
        ['key.created', 'signing'],
        ['key.created', 'signing'],
        ['key.created', 'cookie'],
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

  test('keys sealed under another master secret are refused, not served', async () => {
    const store = createMemoryKeyStore();
    await loadKeys(store, sealer);
    await assert.rejects(loadKeys(store, createSealer('another-master-secret-that-is-long-enough')), SealedSecretError);
  });
});

