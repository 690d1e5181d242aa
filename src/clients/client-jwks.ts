import { createPublicKey } from 'node:crypto';

import { z } from 'zod';

// The public keys a `private_key_jwt` client signs its client assertions with (RFC 7523),
// registered inline as a JWK Set. Only public keys of the algorithms the token endpoint
// accepts: a private key must never be handed to the authorization server (whoever reads
// the registry could then impersonate the client), and a symmetric key is a shared secret
// that the client_secret methods already cover.

/** Client assertion algorithms the engine accepts (provider-config.ts enabledJWA). */
export const CLIENT_ASSERTION_ALGS = ['RS256', 'PS256', 'ES256', 'EdDSA', 'Ed25519'] as const;

const ALGS_BY_KEY_TYPE: Readonly<Record<string, readonly string[]>> = {
  RSA: ['RS256', 'PS256'],
  EC: ['ES256'],
  OKP: ['EdDSA', 'Ed25519'],
};

/** Members that carry private or symmetric key material, in any key type. */
const SECRET_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

const MAX_KEYS = 10;
const MIN_RSA_BITS = 2048;

export interface PublicJwk {
  readonly kty: 'RSA' | 'EC' | 'OKP';
  readonly kid?: string;
  readonly alg?: string;
  readonly use?: 'sig';
  readonly n?: string;
  readonly e?: string;
  readonly crv?: string;
  readonly x?: string;
  readonly y?: string;
}

export interface JwkSet {
  readonly keys: PublicJwk[];
}

const base64url = z.string().regex(/^[A-Za-z0-9_-]+$/, 'must be base64url').max(2048);

function checkKey(raw: Record<string, unknown>, ctx: z.RefinementCtx): PublicJwk | typeof z.NEVER {
  const refuse = (message: string) => {
    ctx.addIssue({ code: 'custom', message });
    return z.NEVER;
  };
  if (raw.kty === 'oct') return refuse('is a symmetric key (kty oct): register the public key of a key pair (RSA, EC P-256 or Ed25519)');
  // Checked before anything else, so no message ever depends on private material.
  const secret = SECRET_MEMBERS.find((member) => raw[member] !== undefined);
  if (secret) return refuse(`is a private key (it has "${secret}"): register only its public part`);
  if (raw.kty !== 'RSA' && raw.kty !== 'EC' && raw.kty !== 'OKP') return refuse('kty must be RSA, EC or OKP');
  const kty = raw.kty;
  const parts: Record<string, readonly string[]> = { RSA: ['n', 'e'], EC: ['crv', 'x', 'y'], OKP: ['crv', 'x'] };
  const key: Record<string, string> = { kty };
  for (const member of parts[kty] ?? []) {
    const value = raw[member];
    if (member === 'crv') {
      if (typeof value !== 'string') return refuse('crv is missing');
      key.crv = value;
    } else {
      const parsed = base64url.safeParse(value);
      if (!parsed.success) return refuse(`${member} is missing or not base64url`);
      key[member] = parsed.data;
    }
  }
  if (kty === 'EC' && key.crv !== 'P-256') return refuse('an EC key must be on curve P-256 (ES256)');
  if (kty === 'OKP' && key.crv !== 'Ed25519') return refuse('an OKP key must be Ed25519');
  for (const member of ['kid', 'alg', 'use'] as const) {
    const value = raw[member];
    if (value === undefined) continue;
    if (typeof value !== 'string' || value.length === 0 || value.length > 200) return refuse(`${member} must be a non-empty string of at most 200 characters`);
    key[member] = value;
  }
  if (key.use !== undefined && key.use !== 'sig') return refuse('use must be "sig": the key signs client assertions');
  if (key.alg !== undefined && !ALGS_BY_KEY_TYPE[kty]?.includes(key.alg)) {
    return refuse(`alg ${key.alg} is not accepted for a ${kty} key (one of ${ALGS_BY_KEY_TYPE[kty]?.join(', ')})`);
  }
  let bits: number | undefined;
  try {
    bits = createPublicKey({ key, format: 'jwk' }).asymmetricKeyDetails?.modulusLength;
  } catch {
    return refuse('is not a valid public key');
  }
  if (kty === 'RSA' && (bits === undefined || bits < MIN_RSA_BITS)) return refuse(`an RSA key must have at least ${MIN_RSA_BITS} bits`);
  return key as unknown as PublicJwk;
}

/**
 * A JWK Set of 1 to 10 public signing keys, normalised to the members that matter (key
 * material, kid, alg, use). Anything private or symmetric is refused, naming the member
 * but never its value.
 */
export const jwkSetSchema = z
  .object({
    keys: z
      .array(z.record(z.string(), z.unknown()).transform(checkKey))
      .min(1, 'must hold at least one public key')
      .max(MAX_KEYS, `must hold at most ${MAX_KEYS} keys`),
  })
  .superRefine((set, ctx) => {
    const kids = set.keys.map((key) => key.kid).filter((kid): kid is string => kid !== undefined);
    if (new Set(kids).size !== kids.length) ctx.addIssue({ code: 'custom', path: ['keys'], message: 'two keys share a kid' });
  });
