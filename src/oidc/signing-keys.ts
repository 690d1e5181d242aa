import { generateKeyPairSync, randomBytes } from 'node:crypto';

import { calculateJwkThumbprint, type JWK } from 'jose';

import type { Sealer } from '../crypto/index.ts';
import type { PrismaClient } from '../db/index.ts';
import { discardAudit, type ActedBy, type AuditSink } from '../audit/index.ts';
import { keyStandings, keysInUseOrder, nextChange, type KeyStanding, type KeyTimes, type LifecyclePolicy } from './key-lifecycle.ts';
import type { AppliedKeys, KeyChanges, KeyStore, PresentKeys, StoredCookieKey, StoredSigningKey } from './key-store.ts';
import { createPrismaKeyStore } from './store/index.ts';

// Signing keys live in the database, sealed with the master secret, so every instance on
// one database signs and publishes the same keys. The first instance to start creates
// them; the key store makes that happen once when several start at once. Later keys come
// by announced rotation (key-rotation.ts); where each key stands is key-lifecycle.ts.

/** RS256 because OIDC requires it for ID tokens; ES256 for access tokens (fast, small). */
export const REQUIRED_ALGS = ['RS256', 'ES256'] as const;
export type RequiredAlg = (typeof REQUIRED_ALGS)[number];

/** The one kind all cookie keys share in key-lifecycle.ts. */
export const COOKIE_KIND = 'cookie';

export type PrivateJwk = JWK & { kid: string; alg: string; use: 'sig' };

function generate(alg: RequiredAlg): Omit<PrivateJwk, 'kid'> {
  const { privateKey } =
    alg === 'RS256'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { ...(privateKey.export({ format: 'jwk' }) as JWK), alg, use: 'sig' };
}

async function withKid(jwk: Omit<PrivateJwk, 'kid'>): Promise<PrivateJwk> {
  // The RFC 7638 thumbprint is stable and unique; a random suffix is not needed.
  return { ...jwk, kid: await calculateJwkThumbprint(jwk) };
}

/** A new signing key for `alg`, sealed, signing from `activatesAt`. */
export async function newSigningKey(sealer: Sealer, alg: RequiredAlg, activatesAt: Date): Promise<KeyChanges['signing'][number]> {
  const jwk = await withKid(generate(alg));
  return { kid: jwk.kid, alg, sealedJwk: sealer.seal(JSON.stringify(jwk)), activatesAt };
}

/** A new cookie key, sealed, signing from `activatesAt`. */
export function newCookieKey(sealer: Sealer, activatesAt: Date): KeyChanges['cookies'][number] {
  return { sealedSecret: sealer.seal(randomBytes(32).toString('base64url')), activatesAt };
}

export interface KeyMaterial {
  /** Private JWKs for the provider: unretired keys, the signing key of each alg first. */
  readonly jwks: { keys: PrivateJwk[] };
  /** Unretired cookie keys: the first signs, all verify. */
  readonly cookieKeys: string[];
  /** What the engine was given, as one string: equal strings, equal engines. */
  readonly fingerprint: string;
  /** The next time the order above changes by the clock alone (an activation, a key becoming retirable). */
  readonly nextChangeAt: Date | undefined;
}

/** Signing and cookie keys as key-lifecycle.ts sees them. */
export function keyTimes(signing: readonly Omit<StoredSigningKey, 'sealedJwk'>[], cookies: readonly Omit<StoredCookieKey, 'sealedSecret'>[]): KeyTimes[] {
  return [
    ...signing.map((key) => ({ id: key.kid, kind: key.alg, createdAt: key.createdAt, activatesAt: key.activatesAt, retiredAt: key.retiredAt })),
    ...cookies.map((key) => ({ id: cookieKeyId(key.id), kind: COOKIE_KIND, createdAt: key.createdAt, activatesAt: key.activatesAt, retiredAt: key.retiredAt })),
  ];
}

/** How a cookie key is named beside signing keys (the CLI's `keys retire cookie-3`). */
export function cookieKeyId(id: number): string {
  return `cookie-${id}`;
}

/** The engine's keys at `now`. Pure but for opening the sealed keys. */
export function keyMaterialAt(
  stored: { signing: readonly StoredSigningKey[]; cookies: readonly StoredCookieKey[] },
  sealer: Sealer,
  policy: LifecyclePolicy,
  now: Date,
): KeyMaterial & { standings: Map<string, KeyStanding> } {
  const times = keyTimes(stored.signing, stored.cookies);
  const standings = keyStandings(times, now, policy);
  const ordered = keysInUseOrder(times, standings);
  const signingById = new Map(stored.signing.map((key) => [key.kid, key]));
  const cookieById = new Map(stored.cookies.map((key) => [cookieKeyId(key.id), key]));
  const signing = ordered.flatMap((key) => signingById.get(key.id) ?? []);
  const cookies = ordered.flatMap((key) => cookieById.get(key.id) ?? []);
  return {
    jwks: { keys: signing.map((row) => JSON.parse(sealer.open(row.sealedJwk)) as PrivateJwk) },
    cookieKeys: cookies.map((row) => sealer.open(row.sealedSecret)),
    fingerprint: ordered.map((key) => key.id).join(' '),
    nextChangeAt: nextChange(standings, times, now),
    standings,
  };
}

/**
 * What must exist for the provider to start: an unretired signing key for each required
 * algorithm, and a cookie key. Created signing at once: nothing signs without them.
 */
export function createMissing(sealer: Sealer) {
  return async (present: PresentKeys): Promise<KeyChanges> => {
    const live = present.signing.filter((key) => !key.retiredAt).map((key) => key.alg);
    const signing = [];
    for (const alg of REQUIRED_ALGS) if (!live.includes(alg)) signing.push(await newSigningKey(sealer, alg, present.now));
    const cookies = present.cookies.some((key) => !key.retiredAt) ? [] : [newCookieKey(sealer, present.now)];
    return { signing, cookies };
  };
}

/** Records what a change stored: `key.created` and `key.retired`, with the actor of `audit`. */
export function auditKeyChanges(audit: AuditSink, applied: AppliedKeys, extra: Record<string, unknown> = {}, by?: ActedBy): void {
  for (const { kid, alg, activatesAt } of applied.signing) {
    audit.record({ type: 'key.created', data: { ...extra, use: 'signing', kid, alg, activatesAt: activatesAt.toISOString() }, ...by });
  }
  for (const { id, activatesAt } of applied.cookies) {
    audit.record({ type: 'key.created', data: { ...extra, use: 'cookie', id, activatesAt: activatesAt.toISOString() }, ...by });
  }
  for (const kid of applied.retiredSigning) audit.record({ type: 'key.retired', data: { ...extra, use: 'signing', kid }, ...by });
  for (const id of applied.retiredCookies) audit.record({ type: 'key.retired', data: { ...extra, use: 'cookie', id }, ...by });
}

/** Reads every key and gives the engine's keys at `now` (nothing is created). */
export async function readKeyMaterial(store: KeyStore, sealer: Sealer, policy: LifecyclePolicy, now = new Date()): Promise<KeyMaterial> {
  const [signing, cookies] = await Promise.all([store.signingKeys(), store.cookieKeys()]);
  const { standings: _standings, ...material } = keyMaterialAt({ signing, cookies }, sealer, policy, now);
  return material;
}

/**
 * Loads the signing and cookie keys, creating whatever is missing. Throws
 * SealedSecretError when MASTER_SECRET cannot open the stored keys. Keys it creates are
 * recorded as `key.created` once they are stored.
 */
export async function loadKeys(store: KeyStore, sealer: Sealer, policy: LifecyclePolicy, audit: AuditSink = discardAudit): Promise<KeyMaterial> {
  const added = await store.change(createMissing(sealer));
  auditKeyChanges(audit, added);
  return readKeyMaterial(store, sealer, policy);
}

/** loadKeys on the database's key rows (store/prisma-key-store.ts). */
export function loadKeyMaterial(prisma: PrismaClient, sealer: Sealer, policy: LifecyclePolicy, audit: AuditSink = discardAudit): Promise<KeyMaterial> {
  return loadKeys(createPrismaKeyStore(prisma), sealer, policy, audit);
}
