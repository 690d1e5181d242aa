import { createLocalJWKSet, errors as joseErrors, jwtVerify, type JWK } from 'jose';
import type Provider from 'oidc-provider';

import type { PrismaClient } from '../db/index.ts';
import type { PrivateJwk } from './signing-keys.ts';

// One answer to "is this access token good, and what does it grant?", for both formats:
// opaque tokens are looked up in the store; JWT access tokens (RFC 9068) are verified
// locally against our own keys, then checked against the jti deny-list and the grant they
// came from, which the engine alone cannot do. Used by introspection, revocation and the
// protected resource endpoints alike.

/** JWT claim naming the grant a JWT access token stems from, so revoking the grant denies it. */
export const GRANT_ID_CLAIM = 'gid';

export interface VerifiedAccessToken {
  readonly format: 'jwt' | 'opaque';
  readonly jti: string;
  readonly sub: string | undefined;
  readonly clientId: string;
  readonly scope: string;
  readonly aud: readonly string[];
  readonly iat: number;
  readonly exp: number;
  readonly grantId: string | undefined;
}

export interface AccessTokenVerifier {
  /** The token's facts, or undefined when it is unknown, expired, revoked or malformed. */
  verify(token: string): Promise<VerifiedAccessToken | undefined>;
  /** Denies a JWT access token until it expires. False when it is not one of ours. */
  revokeJwt(token: string, byClientId: string): Promise<boolean>;
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

const asArray = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : typeof value === 'string' ? [value] : [];

export function createAccessTokenVerifier(deps: {
  provider: Provider;
  prisma: PrismaClient;
  issuer: string;
  keys: readonly PrivateJwk[];
}): AccessTokenVerifier {
  const { provider, prisma, issuer } = deps;
  const jwks = createLocalJWKSet({ keys: deps.keys.map(toPublicJwk) });
  const algorithms = [...new Set(deps.keys.map((key) => key.alg))];

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
    const [denied, grant] = await Promise.all([
      prisma.revokedAccessToken.findUnique({ where: { jti }, select: { jti: true } }),
      grantId ? prisma.oidcGrant.findUnique({ where: { id: grantId }, select: { expiresAt: true } }) : undefined,
    ]);
    if (denied) return undefined;
    if (grantId && (!grant || (grant.expiresAt && grant.expiresAt.getTime() <= Date.now()))) return undefined;
    return {
      format: 'jwt',
      jti,
      sub: payload.sub,
      clientId: payload.client_id as string,
      scope: typeof payload.scope === 'string' ? payload.scope : '',
      aud: asArray(payload.aud),
      iat: payload.iat ?? 0,
      exp: payload.exp!,
      grantId,
    };
  }

  async function verifyOpaque(token: string): Promise<VerifiedAccessToken | undefined> {
    const found = (await provider.AccessToken.find(token)) ?? (await provider.ClientCredentials.find(token));
    if (!found || found.isExpired) return undefined;
    const grantId = 'grantId' in found ? found.grantId : undefined;
    return {
      format: 'opaque',
      jti: found.jti,
      sub: 'accountId' in found ? found.accountId : undefined,
      clientId: found.clientId!,
      scope: found.scope ?? '',
      aud: asArray(found.aud),
      iat: found.iat ?? 0,
      exp: found.exp ?? 0,
      grantId,
    };
  }

  return {
    verify(token) {
      if (token.length > 8192) return Promise.resolve(undefined);
      return looksLikeJwt(token) ? verifyJwt(token) : verifyOpaque(token);
    },
    async revokeJwt(token, byClientId) {
      if (!looksLikeJwt(token)) return false;
      const verified = await verifyJwt(token);
      if (!verified || verified.clientId !== byClientId) return false;
      await prisma.revokedAccessToken.upsert({
        where: { jti: verified.jti },
        create: { jti: verified.jti, expiresAt: new Date(verified.exp * 1000) },
        update: {},
      });
      return true;
    },
  };
}
