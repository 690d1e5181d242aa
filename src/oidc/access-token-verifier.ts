import { createLocalJWKSet, errors as joseErrors, jwtVerify, type JWK } from 'jose';
import type Provider from 'oidc-provider';

import type { ClientRecord } from '../clients/index.ts';
import type { PrivateJwk } from './signing-keys.ts';
import type { JwtStore } from './token-store.ts';

// One answer to "is this access token good, what does it grant, to whom, and which key
// must go with it?", for both formats:
// opaque tokens are looked up in the store; JWT access tokens (RFC 9068) are verified
// locally against our own keys, then checked against the jti deny-list and the grant they
// came from, which the engine alone cannot do. Used by introspection, revocation and the
// protected resource endpoints alike.

/** JWT claim naming the grant a JWT access token stems from, so revoking the grant denies it. */
export const GRANT_ID_CLAIM = 'gid';

/**
 * JWT claim of a client-credentials token naming its client's token generation: deleting
 * the client, registering a new one under its id, or revoking its tokens replaces the
 * generation, and every earlier token stops verifying.
 */
export const CLIENT_GENERATION_CLAIM = 'cgen';

/**
 * The key a token is bound to (RFC 7800 `cnf`): `jkt`, the SHA-256 JWK thumbprint of a DPoP
 * key (RFC 9449), or `x5t#S256`, a client certificate's thumbprint (RFC 8705). A bound token
 * is good only with proof of that key.
 */
export interface TokenBinding {
  readonly jkt?: string;
  readonly 'x5t#S256'?: string;
}

export interface VerifiedAccessToken {
  readonly format: 'jwt' | 'opaque';
  /**
   * Whom the token acts for: a person, through the grant they gave a client, or the client
   * itself (client credentials). Never inferred from `sub`: a client id may look like anything.
   */
  readonly issuedTo: 'person' | 'client';
  /** The key the token is bound to; undefined for a bearer token. */
  readonly cnf: TokenBinding | undefined;
  readonly jti: string;
  readonly sub: string | undefined;
  readonly clientId: string;
  readonly scope: string;
  readonly aud: readonly string[];
  readonly iat: number;
  readonly exp: number;
  readonly grantId: string | undefined;
  /** Who acts for the subject (RFC 8693 `act`), on a token made by a token exchange. */
  readonly act: Readonly<Record<string, unknown>> | undefined;
}

export interface AccessTokenVerifier {
  /** The token's facts, or undefined when it is unknown, expired, revoked or malformed. */
  verify(token: string): Promise<VerifiedAccessToken | undefined>;
  /** Denies a JWT access token of `byClientId` until it expires; `unknown` when it is not a valid one of ours. */
  revokeJwt(token: string, byClientId: string): Promise<'revoked' | 'not_owner' | 'unknown'>;
  /**
   * Whether a client-credentials token issued under `generation` still lives: its client
   * exists and has not had its tokens revoked since (an opaque token stored without a
   * generation lives with its client). `current` is the client's generation when the caller
   * already holds the client (no read then).
   */
  clientTokenLive(clientId: string, generation: unknown, current?: string): Promise<boolean>;
}

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi'] as const;

export function toPublicJwk(jwk: PrivateJwk): JWK {
  const copy: Record<string, unknown> = { ...jwk };
  for (const member of PRIVATE_MEMBERS) delete copy[member];
  return copy;
}

export function looksLikeJwt(token: string): boolean {
  return /^[\w-]+\.[\w-]+\.[\w-]+$/.test(token);
}

function bindingOf(jkt: unknown, x5t: unknown): TokenBinding | undefined {
  const binding = {
    ...(typeof jkt === 'string' && { jkt }),
    ...(typeof x5t === 'string' && { 'x5t#S256': x5t }),
  };
  return Object.keys(binding).length > 0 ? binding : undefined;
}

const actOf = (value: unknown): Readonly<Record<string, unknown>> | undefined =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;

const asArray = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : typeof value === 'string' ? [value] : [];

export function createAccessTokenVerifier(deps: {
  /** The engine, where opaque tokens are found. */
  provider: Provider;
  tokenStore: JwtStore;
  /** The registry: a client-credentials JWT lives only as long as its client's token generation. */
  clients: { find(clientId: string): Promise<Pick<ClientRecord, 'tokenGeneration'> | undefined> };
  issuer: string;
  keys: readonly PrivateJwk[];
  /** False where GRANT_TYPES turns client credentials off: tokens issued before are refused, as the engine refuses them at introspection. */
  clientCredentialsServed?: boolean;
}): AccessTokenVerifier {
  const machineTokens = deps.clientCredentialsServed !== false;
  const { tokenStore, issuer } = deps;
  const jwks = createLocalJWKSet({ keys: deps.keys.map(toPublicJwk) });
  const algorithms = [...new Set(deps.keys.map((key) => key.alg))];

  async function clientTokenLive(clientId: string, generation: unknown, current?: string): Promise<boolean> {
    // No generation: an opaque token stored before tokens carried one. It lives with its
    // client until it expires (revoking a client's tokens deletes those rows; only the race
    // the generation closes stays open for it). JWTs without one never get here.
    if (generation !== undefined && typeof generation !== 'string') return false;
    const now = current ?? (await deps.clients.find(clientId))?.tokenGeneration;
    return now !== undefined && (generation === undefined || generation === now);
  }

  async function verifyJwt(token: string): Promise<VerifiedAccessToken | undefined> {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, jwks, { issuer, typ: 'at+jwt', algorithms, requiredClaims: ['jti', 'exp', 'client_id'] }));
    } catch (error) {
      if (error instanceof joseErrors.JOSEError) return undefined;
      throw error;
    }
    const jti = payload.jti!;
    const grantId = typeof payload[GRANT_ID_CLAIM] === 'string' ? payload[GRANT_ID_CLAIM] : undefined;
    const generation = payload[CLIENT_GENERATION_CLAIM];
    // A person's token lives with its grant; a client's with its client's token generation
    // (gone with the client, replaced when its tokens are revoked). A token naming neither
    // was not issued by this version, or not for either: refused.
    if (!grantId && (typeof generation !== 'string' || !machineTokens)) return undefined;
    const [standing, clientLive] = await Promise.all([
      tokenStore.jwtStanding(jti, grantId),
      grantId ? true : clientTokenLive(payload.client_id as string, generation),
    ]);
    if (standing.denied || !standing.grantLive || !clientLive) return undefined;
    const cnf = (typeof payload.cnf === 'object' && payload.cnf !== null ? payload.cnf : {}) as Record<string, unknown>;
    return {
      format: 'jwt',
      // Only tokens from a grant carry its id (extraTokenClaims); client credentials have none.
      issuedTo: grantId ? 'person' : 'client',
      cnf: bindingOf(cnf.jkt, cnf['x5t#S256']),
      jti,
      sub: payload.sub,
      clientId: payload.client_id as string,
      scope: typeof payload.scope === 'string' ? payload.scope : '',
      aud: asArray(payload.aud),
      iat: payload.iat ?? 0,
      exp: payload.exp!,
      grantId,
      act: actOf(payload.act),
    };
  }

  async function verifyOpaque(token: string): Promise<VerifiedAccessToken | undefined> {
    const { provider } = deps;
    const found = (await provider.AccessToken.find(token)) ?? (machineTokens ? await provider.ClientCredentials.find(token) : undefined);
    if (!found || found.isExpired) return undefined;
    const grantId = 'grantId' in found ? found.grantId : undefined;
    // As for JWTs: a person's token lives with its grant (as the engine's introspection and
    // userinfo check it), a client's with its client's token generation. A row written just
    // after its grant or its client's tokens were revoked is dead all the same.
    if (found.kind === 'AccessToken') {
      const grant = grantId ? await provider.Grant.find(grantId) : undefined;
      if (!grant || grant.isExpired || grant.clientId !== found.clientId || grant.accountId !== found.accountId) return undefined;
    } else if (!(await clientTokenLive(found.clientId!, found.extra?.[CLIENT_GENERATION_CLAIM]))) {
      return undefined;
    }
    return {
      format: 'opaque',
      issuedTo: found.kind === 'AccessToken' ? 'person' : 'client',
      cnf: bindingOf(found.jkt, found['x5t#S256']),
      jti: found.jti,
      sub: 'accountId' in found ? found.accountId : undefined,
      clientId: found.clientId!,
      scope: found.scope ?? '',
      aud: asArray(found.aud),
      iat: found.iat ?? 0,
      exp: found.exp ?? 0,
      grantId,
      act: actOf(found.extra?.act),
    };
  }

  return {
    clientTokenLive,
    verify(token) {
      if (token.length > 8192) return Promise.resolve(undefined);
      return looksLikeJwt(token) ? verifyJwt(token) : verifyOpaque(token);
    },
    async revokeJwt(token, byClientId) {
      if (!looksLikeJwt(token)) return 'unknown';
      const verified = await verifyJwt(token);
      if (!verified) return 'unknown';
      if (verified.clientId !== byClientId) return 'not_owner';
      await tokenStore.denyJwt(verified.jti, new Date(verified.exp * 1000));
      return 'revoked';
    },
  };
}
