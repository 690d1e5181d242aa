import type { Middleware } from 'koa';

import type { AccessTokenVerifier, DpopReplayStore, VerifiedAccessToken } from '../oidc/index.ts';
import { DPOP_PROOF_WINDOW_SECONDS, DPOP_SIGNING_ALGS, verifyDpopProof, type DpopProofResult } from './verify-dpop-proof.ts';

// Access-token protection for our own APIs: RFC 6750 bearer tokens and RFC 9449 DPoP.
// Only the Authorization header is accepted (a token in a query string ends up in logs and
// Referer headers). The token must be active, meant for this API (audience), carry every
// required scope, and be presented as what it is: a DPoP-bound token only with the DPoP
// scheme and a fresh, unused proof of its key; a bearer token only as Bearer. A token bound
// to a client certificate is refused, since mTLS is not enabled to check it.

export interface AccessTokenState {
  accessToken: VerifiedAccessToken;
}

type Scheme = 'Bearer' | 'DPoP';

const ALGS = DPOP_SIGNING_ALGS.join(' ');

function challenge(scheme: Scheme, fields: Record<string, string | undefined>): string {
  const all = scheme === 'DPoP' ? { ...fields, algs: ALGS } : fields;
  // Values are our own constants, scope names or our metadata URL; quotes and backslashes
  // are dropped anyway.
  return `${scheme} ${Object.entries(all)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([key, value]) => `${key}="${value.replace(/["\\]/g, '')}"`)
    .join(', ')}`;
}

/** Why a valid token no longer carries what it says: gone or disabled (401), or lacking the authority now (403). */
export type EntitlementRefusal =
  | { readonly status: 401; readonly error: 'invalid_token'; readonly description: string }
  | { readonly status: 403; readonly error: 'insufficient_scope'; readonly description: string };

type ValidProof = Extract<DpopProofResult, { valid: true }>;

/**
 * Why the token is refused as presented, if it is: a certificate-bound token never (mTLS is
 * not enabled to check it); a DPoP-bound one only with a proof of its own key; any other
 * only as Bearer. Answers the 401's scheme, error and description.
 */
function presentationRefusal(token: VerifiedAccessToken, scheme: Scheme, proof: ValidProof | undefined): [Scheme, string, string] | undefined {
  if (token.cnf?.['x5t#S256']) return [scheme, 'invalid_token', 'certificate-bound access tokens are not accepted here'];
  if (token.cnf?.jkt) {
    if (!proof) return ['DPoP', 'invalid_token', 'this access token is DPoP-bound: present it with the DPoP scheme and a proof'];
    if (proof.jkt !== token.cnf.jkt) return ['DPoP', 'invalid_dpop_proof', 'the DPoP proof is not signed by the key the access token is bound to'];
  } else if (proof) {
    return ['DPoP', 'invalid_token', 'this access token is not DPoP-bound: present it with the Bearer scheme'];
  }
  return undefined;
}

export function requireAccessToken(options: {
  verifier: AccessTokenVerifier;
  /** Spent DPoP proofs, shared by every instance. */
  replays: DpopReplayStore;
  /** The configured issuer: a DPoP proof names a URL under it (htu), whatever Host says. */
  issuer: string;
  /** This API's resource indicator: tokens for other audiences are refused. */
  audience: string;
  scope?: string | readonly string[];
  /** 'person': only a token a person granted (never client credentials, whatever its sub). */
  subject?: 'person' | 'any';
  realm?: string;
  /**
   * The URL of this API's protected-resource metadata (RFC 9728): named in every challenge
   * (section 5.1), so a client that has only the API's URL finds its authorization server.
   */
  resourceMetadata?: string;
  /** Told of a valid token refused for a missing scope (the admin API audits who probed it). */
  onInsufficientScope?: (ctx: Parameters<Middleware>[0], token: VerifiedAccessToken, required: readonly string[]) => void;
  /**
   * Whether the token's subject holds, now, the authority the token was issued for (the
   * admin API re-reads the account or the client on every request: a token outlives a
   * removed role or scope). Asked once everything else holds, before a DPoP proof is spent;
   * a refusal is answered as the token check's own (an insufficient_scope one is also told
   * to onInsufficientScope).
   */
  stillEntitled?: (token: VerifiedAccessToken, required: readonly string[]) => Promise<EntitlementRefusal | undefined>;
}): Middleware<AccessTokenState> {
  const required = typeof options.scope === 'string' ? [options.scope] : [...(options.scope ?? [])];
  const realm = options.realm ?? 'portcullis';
  const resource_metadata = options.resourceMetadata;

  return async (ctx, next) => {
    const refuse = (status: 401 | 403, scheme: Scheme, error: string, description: string, scope?: string) => {
      ctx.status = status;
      ctx.set('WWW-Authenticate', challenge(scheme, { realm, resource_metadata, error, scope, error_description: description }));
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { error, error_description: description };
    };

    const header = ctx.get('Authorization');
    if (!header) {
      // No credentials at all: bare challenges for both schemes (RFC 6750 3.1, RFC 9449 7.1).
      ctx.status = 401;
      ctx.set('WWW-Authenticate', [challenge('Bearer', { realm, resource_metadata }), challenge('DPoP', { realm, resource_metadata })]);
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { error: 'invalid_request', error_description: 'an access token is required in the Authorization header' };
      return;
    }
    const match = /^(Bearer|DPoP) ([A-Za-z0-9\-._~+/]+=*)$/i.exec(header);
    if (!match?.[1] || !match[2]) {
      refuse(401, 'Bearer', 'invalid_request', 'the Authorization header must be "Bearer <token>" or "DPoP <token>"');
      return;
    }
    const scheme: Scheme = match[1].toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer';
    const value = match[2];
    const proofs = ctx.req.headersDistinct.dpop ?? [];

    let proof: ValidProof | undefined;
    if (scheme === 'Bearer' && proofs.length > 0) {
      refuse(401, 'DPoP', 'invalid_request', 'a DPoP proof goes with the DPoP authorization scheme');
      return;
    }
    if (scheme === 'DPoP') {
      if (proofs.length !== 1) {
        refuse(401, 'DPoP', 'invalid_dpop_proof', 'the DPoP scheme needs exactly one DPoP header');
        return;
      }
      const result = await verifyDpopProof(proofs[0]!, { method: ctx.method, url: `${options.issuer}${ctx.path}`, accessToken: value });
      if (!result.valid) {
        refuse(401, 'DPoP', 'invalid_dpop_proof', result.description);
        return;
      }
      proof = result;
    }

    const token = await options.verifier.verify(value);
    if (!token || !token.aud.includes(options.audience)) {
      refuse(401, scheme, 'invalid_token', 'the access token is invalid, expired, revoked or not meant for this API');
      return;
    }
    const misuse = presentationRefusal(token, scheme, proof);
    if (misuse) {
      refuse(401, ...misuse);
      return;
    }

    if (options.subject === 'person' && token.issuedTo !== 'person') {
      // A valid token without the authority asked for (RFC 6750 3.1): no new token of the
      // same kind helps, so 403 rather than invalid_token's "get another and retry".
      refuse(403, scheme, 'insufficient_scope', 'this API acts for a person: it needs a token a person granted, not client credentials', required.join(' ') || undefined);
      return;
    }
    const granted = new Set(token.scope.split(' '));
    if (required.some((scope) => !granted.has(scope))) {
      options.onInsufficientScope?.(ctx, token, required);
      refuse(403, scheme, 'insufficient_scope', `this request needs the scope ${required.join(' ')}`, required.join(' '));
      return;
    }
    const lost = await options.stillEntitled?.(token, required);
    if (lost) {
      if (lost.status === 403) options.onInsufficientScope?.(ctx, token, required);
      refuse(lost.status, scheme, lost.error, lost.description, lost.status === 403 ? required.join(' ') || undefined : undefined);
      return;
    }
    // Last, once everything else holds: a proof is spent only by a request it authorizes.
    // Remembered until its iat leaves the window, after which the iat check refuses it.
    if (proof && !(await options.replays.firstUse(proof.jkt, proof.jti, new Date((proof.iat + DPOP_PROOF_WINDOW_SECONDS + 1) * 1000)))) {
      refuse(401, 'DPoP', 'invalid_dpop_proof', 'this DPoP proof was already used');
      return;
    }
    ctx.state.accessToken = token;
    await next();
  };
}
