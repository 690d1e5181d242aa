import { errors, type KoaContextWithOIDC } from 'oidc-provider';

// Request objects (JAR, RFC 9101) under rules stricter than the engine's, because signed
// request objects travel through browsers (history, logs, Referer):
// - `exp` is required and at most MAX_REQUEST_OBJECT_LIFETIME_SECONDS away (and after `nbf`):
//   the engine checks `exp` only when present and keeps no list of used request objects, so
//   a captured one would otherwise start authorizations for ever.
// - No `sub`: a request object names no subject. One that did would pass as the client's
//   private_key_jwt assertion (same key, `iss`, `aud`), letting whoever saw the URL
//   authenticate as the client once; client assertions, for their part, may not carry the
//   request object's media type (assertClientAssertion below).
// - A client that must sign (require_signed_request_object) gets nothing from the engine's
//   own unsigned objects of pushed requests: a request it pushed plain before the
//   requirement was switched on is refused at /auth, as a new plain push is.

/** RFC 9101 section 10.2 cites FAPI's hour; the engine's own pushed requests live 60 s. */
export const MAX_REQUEST_OBJECT_LIFETIME_SECONDS = 3600;

const REQUEST_OBJECT_TYPE = /^(application\/)?oauth-authz-req\+jwt$/i;

interface RequestObjectClaims {
  readonly exp?: unknown;
  readonly nbf?: unknown;
  readonly sub?: unknown;
}

export function assertRequestObject(_ctx: KoaContextWithOIDC, claims: RequestObjectClaims, header: { alg?: unknown }, client: { requireSignedRequestObject?: unknown }): Promise<void> {
  if (client.requireSignedRequestObject && header.alg === 'none') {
    throw new errors.InvalidRequest('Request Object must be used');
  }
  if (typeof claims.exp !== 'number') throw new errors.InvalidRequestObject("Request Object is missing the 'exp' claim");
  const now = Math.floor(Date.now() / 1000);
  const from = typeof claims.nbf === 'number' ? Math.min(claims.nbf, now) : now;
  if (claims.exp - from > MAX_REQUEST_OBJECT_LIFETIME_SECONDS) {
    throw new errors.InvalidRequestObject(`Request Object 'exp' may be at most ${MAX_REQUEST_OBJECT_LIFETIME_SECONDS} seconds away`);
  }
  if (claims.sub !== undefined) throw new errors.InvalidRequestObject("Request Object must not contain the 'sub' claim");
  return Promise.resolve();
}

/** A client assertion (RFC 7523) that declares itself a request object is none. */
export function assertClientAssertion(_ctx: KoaContextWithOIDC, _claims: unknown, header: { typ?: unknown }): Promise<void> {
  if (typeof header.typ === 'string' && REQUEST_OBJECT_TYPE.test(header.typ)) {
    throw new errors.InvalidClientAuth('a request object is not a client assertion');
  }
  return Promise.resolve();
}
