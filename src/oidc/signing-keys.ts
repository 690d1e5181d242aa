import { generateKeyPairSync, randomBytes } from 'node:crypto';

import { calculateJwkThumbprint, type JWK } from 'jose';

import type { Sealer } from '../crypto/index.ts';
import type { PrismaClient } from '../db/index.ts';
import { KEY_CREATION_LOCK, withTranslatedErrors } from '../db/index.ts';
import { discardAudit, type AuditSink } from '../audit/index.ts';

// Signing keys live in the database, sealed with the master secret, so every instance on
// one database signs and publishes the same keys. The first instance to start creates
// them; a transaction-scoped advisory lock makes that happen once when several start at
// once.

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
 * Loads the signing and cookie keys, creating whatever is missing. Throws
 * SealedSecretError when MASTER_SECRET cannot open the stored keys. Keys it creates are
 * recorded as `key.created` once the transaction has committed.
 */
export async function loadKeyMaterial(prisma: PrismaClient, sealer: Sealer, audit: AuditSink = discardAudit): Promise<KeyMaterial> {
  const created: Record<string, unknown>[] = [];
  await withTranslatedErrors('signing key', () =>
    prisma.$transaction(async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(${KEY_CREATION_LOCK})`;
      const active = await tx.signingKey.findMany({ where: { status: 'active' }, select: { alg: true } });
      for (const alg of REQUIRED_ALGS) {
        if (active.some((key) => key.alg === alg)) continue;
        const jwk = await withKid(generate(alg));
        await tx.signingKey.create({ data: { kid: jwk.kid, alg, privateJwkCiphertext: sealer.seal(JSON.stringify(jwk)) } });
        created.push({ use: 'signing', kid: jwk.kid, alg });
      }
      if ((await tx.cookieKey.count()) === 0) {
        const row = await tx.cookieKey.create({ data: { secretCiphertext: sealer.seal(randomBytes(32).toString('base64url')) } });
        created.push({ use: 'cookie', id: row.id });
      }
    }),
  );
  for (const data of created) audit.record({ type: 'key.created', actor: 'system', data });

  const [signing, cookies] = await Promise.all([
    prisma.signingKey.findMany({ orderBy: [{ status: 'asc' }, { createdAt: 'desc' }] }),
    prisma.cookieKey.findMany({ orderBy: { id: 'desc' } }),
  ]);
  return {
    jwks: { keys: signing.map((row) => JSON.parse(sealer.open(row.privateJwkCiphertext)) as PrivateJwk) },
    cookieKeys: cookies.map((row) => sealer.open(row.secretCiphertext)),
  };
}
