import { hash, parseOptions, verify, type Algorithm } from '@node-rs/argon2';

/** The seam every password goes through; tests may pass cheaper parameters. */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** False for a wrong password and for a malformed hash alike. */
  verify(passwordHash: string, password: string): Promise<boolean>;
  /** True when the hash was made with weaker parameters than the current ones. */
  needsRehash(passwordHash: string): boolean;
}

export interface Argon2Parameters {
  readonly memoryCost: number;
  readonly timeCost: number;
  readonly parallelism: number;
}

/** OWASP Password Storage Cheat Sheet, argon2id minimum: m=19456 KiB, t=2, p=1. */
export const OWASP_ARGON2ID: Argon2Parameters = Object.freeze({ memoryCost: 19456, timeCost: 2, parallelism: 1 });

// `Algorithm` is an ambient const enum, which isolatedModules cannot read at run time.
const ARGON2ID = 2 as Algorithm;

/** Passwords longer than this are refused before hashing: argon2 cost is per byte. */
export const MAX_PASSWORD_BYTES = 1024;

export function createArgon2Hasher(parameters: Argon2Parameters = OWASP_ARGON2ID): PasswordHasher {
  const options = { algorithm: ARGON2ID, ...parameters };
  return Object.freeze({
    hash: (password: string) => hash(password, options),
    async verify(passwordHash: string, password: string) {
      try {
        return await verify(passwordHash, password);
      } catch {
        return false;
      }
    },
    needsRehash(passwordHash: string) {
      try {
        const current = parseOptions(passwordHash);
        return (
          current.algorithm !== ARGON2ID ||
          current.memoryCost < parameters.memoryCost ||
          current.timeCost < parameters.timeCost
        );
      } catch {
        return true;
      }
    },
  });
}
