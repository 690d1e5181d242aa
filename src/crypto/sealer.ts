import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

import { AppError } from '../errors.ts';

// Secrets at rest (signing keys, cookie keys, client secrets) are sealed with AES-256-GCM
// under a key derived from the master secret. The format carries a version so the
// derivation can change without a flag day: `v1.<iv>.<ciphertext><tag>` in base64url.

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class SealedSecretError extends AppError {
  constructor(cause?: unknown) {
    super(
      'sealed_secret_unreadable',
      500,
      'a stored secret cannot be opened: MASTER_SECRET differs from the one it was sealed with',
      { expose: false, cause },
    );
  }
}

export interface Sealer {
  seal(plaintext: string): string;
  open(sealed: string): string;
}

export function createSealer(masterSecret: string): Sealer {
  const key = Buffer.from(
    hkdfSync('sha256', Buffer.from(masterSecret, 'utf8'), 'portcullis', 'secrets at rest v1', 32),
  );

  return Object.freeze({
    seal(plaintext: string): string {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
      return `${VERSION}.${iv.toString('base64url')}.${body.toString('base64url')}`;
    },
    open(sealed: string): string {
      const [version, ivText, bodyText] = sealed.split('.');
      if (version !== VERSION || !ivText || !bodyText) throw new SealedSecretError();
      const iv = Buffer.from(ivText, 'base64url');
      const body = Buffer.from(bodyText, 'base64url');
      if (iv.length !== IV_BYTES || body.length < TAG_BYTES) throw new SealedSecretError();
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, iv);
        decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
        return Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]).toString('utf8');
      } catch (error) {
        throw new SealedSecretError(error);
      }
    },
  });
}
