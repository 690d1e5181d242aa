import type { ResourceServerRecord } from '../clients/index.ts';
import { DPOP_SIGNING_ALGS } from './verify-dpop-proof.ts';

// OAuth 2.0 Protected Resource Metadata (RFC 9728) for a resource Portcullis serves itself:
// what a client that met the resource first (an MCP client given only its URL) needs to
// get a token for it. Pure: built from the registry's record of the resource server and
// the issuer, so it says what the authorization server will really issue (the scopes a
// client can be registered for) and cannot drift from it.

/** RFC 9728 section 3: the well-known URI suffix. */
export const PROTECTED_RESOURCE_WELL_KNOWN = '/.well-known/oauth-protected-resource';

export interface ProtectedResourceMetadata {
  readonly resource: string;
  readonly resource_name: string;
  readonly authorization_servers: readonly string[];
  readonly scopes_supported: readonly string[];
  readonly bearer_methods_supported?: readonly string[];
  readonly dpop_signing_alg_values_supported?: readonly string[];
}

/**
 * Where a resource's metadata lives (RFC 9728 section 3.1): the well-known suffix goes
 * between the host and the resource's path, the path's terminating slash dropped.
 * `https://id.example.com/api` -> `https://id.example.com/.well-known/oauth-protected-resource/api`.
 */
export function protectedResourceMetadataUrl(resource: string): string {
  const url = new URL(resource);
  const path = url.pathname === '/' ? '' : url.pathname;
  return `${url.origin}${PROTECTED_RESOURCE_WELL_KNOWN}${path}${url.search}`;
}

/**
 * `servedHere`: Portcullis itself checks the resource's tokens (the account API, the admin
 * API: require-access-token.ts), so it can say how they are presented. For another resource
 * server of the registry only the registry's facts are said: how it takes tokens is its own.
 */
export function buildProtectedResourceMetadata(options: { issuer: string; resource: ResourceServerRecord; servedHere: boolean }): ProtectedResourceMetadata {
  const { resource } = options;
  return {
    resource: resource.indicator,
    resource_name: resource.name,
    authorization_servers: [options.issuer],
    scopes_supported: resource.scopes.map((scope) => scope.name),
    ...(options.servedHere && {
      // Only the Authorization header (require-access-token.ts): never a form body or query.
      bearer_methods_supported: ['header'],
      dpop_signing_alg_values_supported: DPOP_SIGNING_ALGS,
    }),
  };
}

/**
 * The identifiers a metadata path under the issuer may name (section 3.1 read backwards):
 * `<well-known>/orders` names `<issuer>/orders`, or `<issuer>/orders/` (the terminating slash
 * is dropped going forwards). Undefined for anything else.
 */
export function indicatorsAt(issuer: string, path: string): readonly string[] | undefined {
  if (!path.startsWith(`${PROTECTED_RESOURCE_WELL_KNOWN}/`)) return undefined;
  const rest = path.slice(PROTECTED_RESOURCE_WELL_KNOWN.length);
  if (rest === '/' || rest.includes('//')) return undefined;
  return [`${issuer}${rest}`, `${issuer}${rest}/`];
}
