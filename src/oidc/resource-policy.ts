import type { KoaContextWithOIDC, ResourceServer } from 'oidc-provider';
import { errors } from './engine.ts';

import { OIDC_SCOPES, type ResourceServerRecord, type ResourceService } from '../clients/index.ts';
import type { PortcullisClientFields } from './client-metadata.ts';
import { defaultResourceFor, refuseUngrantableScopes, type ScopeRules } from './default-resource.ts';
import type { RequestAccounts } from './request-accounts.ts';

// Which resource server a token is for and what it may carry there. A token may carry only
// scopes that the resource offers, the client is registered for, and (for a person) their
// roles permit (RBAC). Consent therefore lists only scopes that can be granted. (A role that
// requires a second factor is enforced before this: the login check asks for it on the
// pages, and findAccount refuses a code or refresh token from a sign-in without it.)

type Client = KoaContextWithOIDC['oidc']['client'] & Partial<PortcullisClientFields>;

const OIDC_SCOPE_SET: ReadonlySet<string> = new Set(OIDC_SCOPES);

export interface ResourcePolicy {
  /** Without `resource`: the one resource server the requested scopes belong to, or a refusal naming the scope. */
  readonly defaultResource: (ctx: KoaContextWithOIDC, client: Client, oneOf?: readonly string[]) => Promise<string | readonly string[] | undefined>;
  /** The resource server of an indicator the client is registered for, with the scopes it may receive there. */
  readonly getResourceServerInfo: (ctx: KoaContextWithOIDC, indicator: string, client: Client) => Promise<ResourceServer>;
}

/**
 * The routes of the browser's pages, where the person is the session's: the authorization
 * request and its resume, and the device flow's /device pages (whose resource checks run
 * before the engine loads the account, so the session is all there is to read).
 */
const PAGE_ROUTES: ReadonlySet<string> = new Set(['authorization', 'resume', 'code_verification', 'device_resume']);

/**
 * The roles of the person a token is for: undefined when there is none (client
 * credentials) or not yet (an authorization request before login; the engine asks
 * again once the user has logged in). A missing or disabled account has no roles.
 */
async function rolesOfSubject(ctx: KoaContextWithOIDC, accounts: RequestAccounts): Promise<ReadonlySet<string> | undefined> {
  const { entities, route } = ctx.oidc;
  const accountId =
    entities.Account?.accountId ??
    entities.AuthorizationCode?.accountId ??
    entities.RefreshToken?.accountId ??
    (route !== undefined && PAGE_ROUTES.has(route) ? ctx.oidc.session?.accountId : undefined);
  if (!accountId) return undefined;
  const account = await accounts.find(ctx, accountId);
  return new Set(account && !account.disabled ? account.roles : []);
}

/** A scope is grantable to a subject with these roles (undefined: no person, no role rule). */
export function permits(roles: ReadonlySet<string> | undefined, scope: { roles: readonly string[] }): boolean {
  return roles === undefined || scope.roles.length === 0 || scope.roles.some((role) => roles.has(role));
}

export function createResourcePolicy(deps: {
  accounts: RequestAccounts;
  resources: Pick<ResourceService, 'find'>;
  /** The OIDC scopes the engine serves (served-grants.ts). */
  oidcScopes: readonly string[];
}): ResourcePolicy {
  // Resource servers looked up for one request: the default-resource rule and each
  // resource's info read the same records.
  type Lookup = ReturnType<ResourceService['find']>;
  const resourcesOfRequest = new WeakMap<object, Map<string, Lookup>>();
  function findResource(ctx: KoaContextWithOIDC, indicator: string): Lookup {
    let cached = resourcesOfRequest.get(ctx);
    if (!cached) resourcesOfRequest.set(ctx, (cached = new Map<string, Lookup>()));
    let found = cached.get(indicator);
    if (!found) cached.set(indicator, (found = deps.resources.find(indicator)));
    return found;
  }

  const scopeRules: ScopeRules = { findResource, oidcScopes: OIDC_SCOPE_SET, servedOidcScopes: new Set(deps.oidcScopes) };

  return {
    defaultResource: async (ctx, client, oneOf) => oneOf ?? (await defaultResourceFor(ctx, client, scopeRules)),

    async getResourceServerInfo(ctx, indicator, client) {
      if (!client.portcullis_resources?.includes(indicator)) throw new errors.InvalidTarget();
      const resource = await findResource(ctx, indicator);
      if (!resource) throw new errors.InvalidTarget();
      const allowed = new Set(client.portcullis_resource_scopes ?? []);
      await refuseUngrantableScopes(ctx, client, scopeRules);
      const roles = await rolesOfSubject(ctx, deps.accounts);
      const scope = resource.scopes
        .filter((s) => allowed.has(s.name) && permits(roles, s))
        .map((s) => s.name)
        .join(' ');
      return resourceServerInfo(resource, scope);
    },
  };
}

/** What the engine needs of a resource server to issue a token for it, carrying `scope`. */
export function resourceServerInfo(resource: ResourceServerRecord, scope: string): ResourceServer {
  return {
    scope,
    audience: resource.indicator,
    accessTokenTTL: resource.accessTokenTtl,
    accessTokenFormat: resource.accessTokenFormat,
    ...(resource.accessTokenFormat === 'jwt' && { jwt: { sign: { alg: resource.signingAlg as 'ES256' | 'RS256' } } }),
  };
}
