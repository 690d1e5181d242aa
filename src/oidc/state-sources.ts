import type { PrismaClient } from '../db/index.ts';
import type { StateSources } from '../observability/index.ts';
import type { KeyMaterial } from './signing-keys.ts';

// What the state gauges (portcullis_active_sessions, portcullis_signing_key_age_seconds)
// read. The metrics registry calls these at scrape time, at most once per its cache period.

export function createStateSources(prisma: PrismaClient, keys: () => KeyMaterial): StateSources {
  // A key's creation time never changes: read once per set of signing keys (a rotation changes the set).
  let created: { fingerprint: string; read: Promise<{ alg: string; createdAt: Date }[]> } | undefined;
  return {
    activeSessions: () => prisma.oidcSession.count({ where: { endedAt: null, OR: [{ expiresAt: null }, { expiresAt: { gt: new Date() } }] } }),
    signingKeys() {
      const material = keys();
      if (created?.fingerprint === material.fingerprint) return created.read;
      // The first key of each algorithm signs (the signing keys come first); those are the ones whose age matters.
      const signing = new Map<string, string>();
      for (const key of material.jwks.keys) if (!signing.has(key.alg)) signing.set(key.alg, key.kid);
      const read = prisma.signingKey.findMany({ where: { kid: { in: [...signing.values()] } }, select: { alg: true, createdAt: true } }).catch((error: unknown) => {
        created = undefined;
        throw error;
      });
      created = { fingerprint: material.fingerprint, read };
      return read;
    },
  };
}
