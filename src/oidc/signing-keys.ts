import { generateKeyPairSync, randomBytes } from 'node:crypto';

import { calculateJwkThumbprint, type JWK } from 'jose';

import type { Sealer } from '../crypto/index.ts';
import type { PrismaClient } from '../db/index.ts';
import { discardAudit, type AuditSink } from '../audit/index.ts';
import type { KeyStore, NewKeys, PresentKeys } from './key-store.ts';
import { createPrismaKeyStore } from './store/index.ts';

// Signing keys live in the database, sealed with the master secret, so every instance on
// one database signs and publishes the same keys. The first instance to start creates
// them; the key store makes that happen once when several start at once.

/** RS256 because OIDC requires it for ID tokens; ES256 for access tokens (fast, small). */
export const REQUIRED_ALGS = ['RS256', 'ES256'] as const;

export type PrivateJwk = JWK & { kid: string; alg: string; use: 'sig' };

function generate(alg: (typeof REQUIRED_ALGS)[number]): Omit<PrivateJwk, 'kid'> {
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

export interface KeyMaterial {
  /** Private JWKs for the provider, active keys first (the first of each alg signs). */
  readonly jwks: { keys: PrivateJwk[] };
  /** Newest first: the first signs cookies, all verify. */
  readonly cookieKeys: string[];
}

/**
 * What must exist for the provider to start: an active signing key for each required
 * algorithm, and a cookie key. Retired keys count for nothing (they only verify).
 */
export function missingKeys(present: PresentKeys): { algs: (typeof REQUIRED_ALGS)[number][]; cookieKey: boolean } {
  return {
    algs: REQUIRED_ALGS.filter((alg) => !present.activeSigningAlgs.includes(alg)),
    cookieKey: present.cookieKeys === 0,
  };
}

/** Creates and seals what `missingKeys` names. */
function createMissing(sealer: Sealer) {
  return async (present: PresentKeys): Promise<NewKeys> => {
    const missing = missingKeys(present);
    const signing = [];
    for (const alg of missing.algs) {
      const jwk = await withKid(generate(alg));
      signing.push({ kid: jwk.kid, alg, sealedJwk: sealer.seal(JSON.stringify(jwk)) });
    }
    return { signing, sealedCookieSecrets: missing.cookieKey ? [sealer.seal(randomBytes(32).toString('base64url'))] : [] };
  };
}

/**
 * Loads the signing and cookie keys, creating whatever is missing. Throws
 * SealedSecretError when MASTER_SECRET cannot open the stored keys. Keys it creates are
 * recorded as `key.created` once they are stored.
 */
export async function loadKeys(store: KeyStore, sealer: Sealer, audit: AuditSink = discardAudit): Promise<KeyMaterial> {
  const added = await store.addMissing(createMissing(sealer));
  for (const { kid, alg } of added.signing) audit.record({ type: 'key.created', actor: 'system', data: { use: 'signing', kid, alg } });
  for (const id of added.cookieKeyIds) audit.record({ type: 'key.created', actor: 'system', data: { use: 'cookie', id } });

  const [signing, cookies] = await Promise.all([store.signingKeys(), store.cookieKeys()]);
  return {
    jwks: { keys: signing.map((row) => JSON.parse(sealer.open(row.sealedJwk)) as PrivateJwk) },
    cookieKeys: cookies.map((row) => sealer.open(row.sealedSecret)),
  };
}

/** loadKeys on the database's key rows (store/prisma-key-store.ts). */
export function loadKeyMaterial(prisma: PrismaClient, sealer: Sealer, audit: AuditSink = discardAudit): Promise<KeyMaterial> {
  return loadKeys(createPrismaKeyStore(prisma), sealer, audit);
}
