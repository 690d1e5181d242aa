import { createHash } from 'node:crypto';

import { calculateJwkThumbprint, EmbeddedJWK, jwtVerify, type JWTPayload } from 'jose';

// The checks RFC 9449 section 4.3 asks of a DPoP proof presented with an access token at a
// resource (steps 1-12 but the nonce, which we never issue, and the jti replay, which needs
// storage: the caller claims the jti once everything else holds). Pure: no I/O. Every
// failure is data with a description safe to show; nothing the sender wrote can throw.

/** Proof algorithms accepted, the same as the engine's own (its discovery advertises them). */
export const DPOP_SIGNING_ALGS: readonly string[] = Object.freeze(['ES256', 'Ed25519', 'EdDSA']);

/** How far a proof's iat may be from our clock, either way. */
export const DPOP_PROOF_WINDOW_SECONDS = 60;

/** Longer than any proof of an accepted alg and key size. */
const MAX_PROOF_LENGTH = 4096;

export interface DpopProofRequest {
  /** The request's method, as received. */
  readonly method: string;
  /** The request's URL as the public sees it (from the configured issuer), any query ignored. */
  readonly url: string;
  /** The access token the proof must be made for (ath). */
  readonly accessToken: string;
  /** Epoch seconds; now by default. */
  readonly now?: number;
}

export type DpopProofResult =
  | { readonly valid: true; readonly jkt: string; readonly jti: string; readonly iat: number }
  | { readonly valid: false; readonly description: string };

const refuse = (description: string): DpopProofResult => ({ valid: false, description });

/** The URL without query and fragment, normalised; undefined when it is not one. */
function comparableUrl(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  url.search = '';
  url.hash = '';
  return url.href;
}

export async function verifyDpopProof(proof: string, request: DpopProofRequest): Promise<DpopProofResult> {
  if (proof.length === 0 || proof.length > MAX_PROOF_LENGTH) return refuse('the DPoP proof is missing or too long');
  let payload: JWTPayload;
  let jkt: string;
  try {
    // typ dpop+jwt, an allowed asymmetric alg (never none or HMAC), a public key in the jwk
    // header that verifies the signature.
    const verified = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: [...DPOP_SIGNING_ALGS] });
    payload = verified.payload;
    jkt = await calculateJwkThumbprint(verified.protectedHeader.jwk!);
  } catch {
    return refuse('the DPoP proof is not a valid dpop+jwt signed with its embedded public key by an accepted algorithm');
  }

  const { jti, iat, htm, htu, ath } = payload as JWTPayload & { htm?: unknown; htu?: unknown; ath?: unknown };
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > 256) return refuse('the DPoP proof has no valid jti');
  if (htm !== request.method) return refuse('the DPoP proof is for another HTTP method (htm)');
  const expectedUrl = comparableUrl(request.url);
  if (expectedUrl === undefined || comparableUrl(htu) !== expectedUrl) return refuse('the DPoP proof is for another URL (htu)');
  const now = request.now ?? Math.floor(Date.now() / 1000);
  if (typeof iat !== 'number' || !Number.isFinite(iat) || Math.abs(now - iat) > DPOP_PROOF_WINDOW_SECONDS) {
    return refuse('the DPoP proof is not recent (iat)');
  }
  if (ath !== createHash('sha256').update(request.accessToken).digest('base64url')) {
    return refuse('the DPoP proof is not for this access token (ath)');
  }
  return { valid: true, jkt, jti, iat };
}
