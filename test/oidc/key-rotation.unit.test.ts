import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { createSealer } from '../../src/crypto/index.ts';
import { ConflictError, NotFoundError, ValidationError } from '../../src/errors.ts';
import { keyStandings, keysInUseOrder, type KeyTimes } from '../../src/oidc/key-lifecycle.ts';
import { createKeyRotation, type RotationPolicy } from '../../src/oidc/key-rotation.ts';
import { loadKeys, readKeyMaterial, type RequiredAlg } from '../../src/oidc/signing-keys.ts';
import { createMemoryKeyStore } from '../fakes/memory-key-store.ts';
import { captureAudit } from '../helpers/capture-audit.ts';

// The rules of announced rotation on the in-memory store with a clock the test moves:
// which key signs when, when an old one may go, what the schedule does, and the refusals.

const sealer = createSealer('unit-test-master-secret-long-enough-0123456789');
const T0 = new Date('2026-12-05T08:00:00Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);
const policy = (rotationDays?: number): RotationPolicy => ({ announceSeconds: 100, marginSeconds: 10, lifetimeSeconds: (kind) => (kind === 'cookie' ? 5000 : 600), rotationDays });

async function setup(rotationDays?: number) {
  const store = createMemoryKeyStore(T0);
  await loadKeys(store, sealer, policy(rotationDays));
  const audit = captureAudit();
  const rotation = createKeyRotation({ store, sealer, policy: () => Promise.resolve(policy(rotationDays)), audit });
  const signingKid = async (alg: RequiredAlg, now: Date) => (await readKeyMaterial(store, sealer, policy(), now)).jwks.keys.find((key) => key.alg === alg)!.kid;
  return { store, rotation, audit, signingKid };
}

describe('key standings', () => {
  const key = (id: string, activatesAt: number, retiredAt: number | null = null): KeyTimes => ({ id, kind: 'ES256', createdAt: at(activatesAt - 100), activatesAt: at(activatesAt), retiredAt: retiredAt === null ? null : at(retiredAt) });
  const rules = { lifetimeSeconds: () => 600, marginSeconds: 10 };

  test('announced until it activates, then signing; the one it replaced is retiring until its tokens expired', () => {
    const keys = [key('old', 0), key('new', 100)];
    assert.deepEqual([...keyStandings(keys, at(50), rules)].map(([id, s]) => [id, s.state]), [['old', 'signing'], ['new', 'announced']]);
    const after = keyStandings(keys, at(150), rules);
    assert.equal(after.get('new')?.state, 'signing');
    assert.deepEqual(after.get('old'), { state: 'retiring', stoppedSigningAt: at(100), retirableAt: at(100 + 600 + 10) });
  });

  test('the signing key comes first for the engine, announced and retiring ones after it, retired ones not at all', () => {
    const keys = [key('old', 0), key('new', 100), key('next', 300), key('gone', -900, -10)];
    const order = keysInUseOrder(keys, keyStandings(keys, at(150), rules)).map((k) => k.id);
    assert.deepEqual(order, ['new', 'next', 'old']);
  });
});

describe('rotation', () => {
  test('rotate announces a key per algorithm that signs only after the announce delay, and records it', async () => {
    const { store, rotation, audit, signingKid } = await setup();
    const oldEs = await signingKid('ES256', T0);
    const applied = await rotation.rotate({ algs: ['ES256'] });
    assert.deepEqual(applied.signing.map((key) => [key.alg, key.activatesAt]), [['ES256', at(100)]]);
    const material = await readKeyMaterial(store, sealer, policy(), at(99));
    assert.ok(material.jwks.keys.some((key) => key.kid === applied.signing[0]!.kid), 'published at once');
    assert.equal(await signingKid('ES256', at(99)), oldEs, 'not signing before the delay');
    assert.equal(await signingKid('ES256', at(100)), applied.signing[0]!.kid);
    assert.deepEqual(material.nextChangeAt, at(100));
    assert.deepEqual(audit.events.map((event) => [event.type, (event.data as { alg?: string }).alg]), [['key.created', 'ES256']]);
  });

  test('refusals: a second announcement, an unknown kid, an unknown alg, the signing key, and a retiring key too early', async () => {
    const { store, rotation, signingKid } = await setup();
    const oldEs = await signingKid('ES256', T0);
    await assert.rejects(rotation.rotate({ algs: ['HS256' as RequiredAlg] }), ValidationError);
    await rotation.rotate({ algs: ['ES256'] });
    await assert.rejects(rotation.rotate({ algs: ['ES256'] }), ConflictError);
    await assert.rejects(rotation.retire('nope'), NotFoundError);
    await assert.rejects(rotation.retire(oldEs), /current ES256 signing key/);
    store.setNow(at(200));
    await assert.rejects(rotation.retire(oldEs), /until 2026-12-05T08:11:50.000Z; --force/);
    store.setNow(at(710));
    const retired = await rotation.retire(oldEs);
    assert.deepEqual(retired.retiredSigning, [oldEs]);
    assert.equal((await readKeyMaterial(store, sealer, policy(), at(710))).jwks.keys.some((key) => key.kid === oldEs), false, 'no longer published');
  });

  test('maintain retires what became retirable and, with a schedule, announces successors of keys that old', async () => {
    const { store, rotation } = await setup(1);
    assert.deepEqual(await rotation.maintain(), { signing: [], cookies: [], retiredSigning: [], retiredCookies: [] });
    store.setNow(at(86_400));
    const rotated = await rotation.maintain();
    assert.deepEqual(rotated.signing.map((key) => key.alg).sort(), ['ES256', 'RS256']);
    assert.equal(rotated.cookies.length, 1);
    assert.deepEqual((await rotation.maintain()).signing, [], 'once: a successor is already announced');
    // The successors sign at +100 s; the old signing keys may go 610 s later, the old cookie key 5010 s later.
    store.setNow(at(86_400 + 100 + 610));
    const retired = await rotation.maintain();
    assert.equal(retired.retiredSigning.length, 2);
    assert.deepEqual(retired.retiredCookies, []);
    store.setNow(at(86_400 + 100 + 5010));
    assert.equal((await rotation.maintain()).retiredCookies.length, 1);
  });
});
