import type { RegistrationPolicy } from '../config/index.ts';
import { isLoopbackHost, type ResourceService } from '../clients/index.ts';

// What a client that registers itself may be (CLIENT_REGISTRATION_*), checked on the
// registration as it will be stored (registration-document.ts made it), before the
// registry's own validation, which every client passes whoever made it. The first
// problem is the refusal, named by the RFC 7591 field it is about (the engine answers
// invalid_redirect_uri for redirect_uris, invalid_client_metadata for the rest, 3.2.2).

export interface RegisteredShape {
  readonly grantTypes: readonly string[];
  readonly authMethod: string;
  readonly redirectUris: readonly string[];
  readonly postLogoutRedirectUris: readonly string[];
  readonly scopes: readonly string[];
  readonly resources: readonly string[];
  /** logo_uri, client_uri, policy_uri, tos_uri, by field: shown to people, so on the allowed hosts only. */
  readonly displayUris: Readonly<Record<string, string | undefined>>;
}

/** Whether a host is one the policy names: exact, `*.example.com` for its subdomains, or `*`. */
function hostAllowed(hostname: string, hosts: readonly string[]): boolean {
  const host = hostname.toLowerCase();
  return hosts.some((allowed) => allowed === '*' || allowed === host || (allowed.startsWith('*.') && host.endsWith(allowed.slice(1))));
}

/** A redirect URI's problem under the policy, or undefined. http only on loopback hosts (RFC 8252 section 7.3). */
function redirectProblem(uri: string, policy: RegistrationPolicy): string | undefined {
  if (!URL.canParse(uri)) return undefined; // the registry's validation names it
  const url = new URL(uri);
  const scheme = url.protocol.slice(0, -1);
  if (scheme === 'http') return isLoopbackHost(url.hostname) ? undefined : `${uri}: http is allowed only for loopback hosts (localhost, 127.0.0.1, [::1])`;
  if (!policy.redirectSchemes.includes(scheme)) return `${uri}: the ${scheme} scheme is not allowed here (allowed: ${policy.redirectSchemes.join(', ') || 'none'}; http on loopback)`;
  if (scheme === 'https' && !isLoopbackHost(url.hostname) && !hostAllowed(url.hostname, policy.redirectHosts)) return `${uri}: the host ${url.hostname} is not allowed here`;
  return undefined;
}

/** The first thing the policy does not allow, as a message starting with its field's name; undefined when it allows all. */
export function checkRegistrationPolicy(shape: RegisteredShape, policy: RegistrationPolicy): string | undefined {
  const grant = shape.grantTypes.find((name) => !(policy.grantTypes as readonly string[]).includes(name));
  if (grant !== undefined) return `grant_types: ${grant} is not allowed for registered clients`;
  if (!(policy.authMethods as readonly string[]).includes(shape.authMethod)) {
    return `token_endpoint_auth_method: ${shape.authMethod} is not allowed for registered clients (allowed: ${policy.authMethods.join(', ')})`;
  }
  for (const uri of shape.redirectUris) {
    const problem = redirectProblem(uri, policy);
    if (problem) return `redirect_uris: ${problem}`;
  }
  for (const uri of shape.postLogoutRedirectUris) {
    const problem = redirectProblem(uri, policy);
    if (problem) return `post_logout_redirect_uris: ${problem}`;
  }
  for (const [field, uri] of Object.entries(shape.displayUris)) {
    if (uri === undefined || !URL.canParse(uri)) continue; // the registry's validation names a malformed one
    const { hostname } = new URL(uri);
    if (!hostAllowed(hostname, policy.redirectHosts)) return `${field}: ${uri}: the host ${hostname} is not allowed here`;
  }
  const scope = shape.scopes.find((name) => !policy.scopes.includes(name));
  if (scope !== undefined) return `scope: ${scope} is not allowed for registered clients`;
  const resource = shape.resources.find((indicator) => !policy.resources.includes(indicator));
  if (resource !== undefined) return `resource: ${resource} is not allowed for registered clients`;
  return undefined;
}

/**
 * The scopes each resource server the policy allows offers (gone ones offer none): what a
 * registration, or a metadata document, may ask for beyond the OpenID scopes.
 */
export async function offeredScopes(policy: RegistrationPolicy, resources: Pick<ResourceService, 'find'>): Promise<Map<string, string[]>> {
  const offered = new Map<string, string[]>();
  for (const indicator of policy.resources) {
    const resource = await resources.find(indicator);
    if (resource) offered.set(indicator, resource.scopes.map((scope) => scope.name));
  }
  return offered;
}
