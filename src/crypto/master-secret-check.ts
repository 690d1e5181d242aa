import { hkdfSync } from 'node:crypto';

/**
 * A value that tells master secrets apart without revealing them: derived one-way (HKDF,
 * its own label, so it is not the sealing key either). Stored once per deployment, it lets
 * a process with another secret refuse to start before it seals anything.
 */
export function masterSecretCheck(masterSecret: string): string {
  const derived = hkdfSync('sha256', Buffer.from(masterSecret, 'utf8'), 'portcullis', 'master secret check v1', 32);
  return `v1.${Buffer.from(derived).toString('base64url')}`;
}
