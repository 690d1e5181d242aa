import type { KoaContextWithOIDC } from 'oidc-provider';
import { errors } from './engine.ts';

import type { ResourceServerRecord } from '../clients/index.ts';
import type { PortcullisClientFields } from './client-metadata.ts';

// Which scopes a request may have, and for which resource server, when the engine would
// otherwise narrow them without a word. The engine drops every scope that is not an OIDC
// one when a request names no `resource`, and keeps only the resource's own scopes when it
// does; RFC 6749 §3.3 lets a server grant less, but §5.1 then requires it to say so, and a
// client that asked for `read` and got a token without it learns that only at the API.
// So: a scope is either granted (and the token response names it) or refused here with
// `invalid_scope` / `invalid_target` naming it, at the authorization, PAR and token
// endpoints alike (these run inside the engine's error handling: an authorization error
// goes back to the client's registered redirect URI).

type Client = KoaContextWithOIDC['oidc']['client'] & Partial<PortcullisClientFields>;

export interface ScopeRules {
  /** The resource server of an indicator, looked up once per request. */
  findResource(ctx: KoaContextWithOIDC, indicator: string): Promise<ResourceServerRecord | undefined>;
  /** The engine's own (OpenID Connect) scopes; every other scope belongs to a resource server. */
  readonly oidcScopes: ReadonlySet<string>;
  /** Of those, the ones this deployment serves (no offline_access without refresh tokens, served-grants.ts). */
  readonly servedOidcScopes: ReadonlySet<string>;
}

function requestedScopes(ctx: KoaContextWithOIDC): string[] {
  const scope = ctx.oidc.params?.scope;
  return typeof scope === 'string' ? [...new Set(scope.split(' ').filter(Boolean))] : [];
}

function requestedIndicators(ctx: KoaContextWithOIDC): string[] {
  const resource: unknown = ctx.oidc.params?.resource;
  return (Array.isArray(resource) ? (resource as unknown[]) : [resource]).filter((value): value is string => typeof value === 'string');
}

function isClientCredentials(ctx: KoaContextWithOIDC): boolean {
  return ctx.oidc.route === 'token' && ctx.oidc.params?.grant_type === 'client_credentials';
}

/**
 * Refuses, naming the scope: an OIDC scope in a client-credentials request (those scopes
 * are about a person, and such a token is for none); an OIDC or resource scope the client
 * is not registered for; and, when resources are named, a resource scope none of them offers.
 */
export async function refuseUngrantableScopes(ctx: KoaContextWithOIDC, client: Client, rules: ScopeRules): Promise<void> {
  const requested = requestedScopes(ctx);
  if (isClientCredentials(ctx)) {
    const personal = requested.find((scope) => rules.oidcScopes.has(scope));
    if (personal) {
      throw new errors.InvalidScope(`scope ${personal} is about a person; a client credentials token cannot carry it`, personal);
    }
  }
  // The engine checks OIDC scopes against the client's `scope`, but reads an empty one as
  // "any": a client registered for no OIDC scope (an API-only app, or one whose only one was
  // offline_access with refresh tokens off) could ask for openid and email. The
  // registration is the rule, here for every authorization, pushed and device request.
  const registeredOidc = new Set(client.scope?.split(' ') ?? []);
  const unregisteredOidc = requested.find((scope) => rules.servedOidcScopes.has(scope) && !registeredOidc.has(scope));
  if (unregisteredOidc) throw new errors.InvalidScope(`scope ${unregisteredOidc} is not registered for this client`, unregisteredOidc);
  const registered = new Set(client.portcullis_resource_scopes ?? []);
  const wanted = requested.filter((scope) => !rules.oidcScopes.has(scope));
  const unregistered = wanted.find((scope) => !registered.has(scope));
  if (unregistered) throw new errors.InvalidScope(`scope ${unregistered} is not registered for this client`, unregistered);

  const indicators = requestedIndicators(ctx);
  if (indicators.length === 0) return;
  const offered = new Set<string>();
  for (const indicator of indicators) {
    for (const scope of (await rules.findResource(ctx, indicator))?.scopes ?? []) offered.add(scope.name);
  }
  const elsewhere = wanted.find((scope) => !offered.has(scope));
  if (elsewhere) {
    throw new errors.InvalidScope(`scope ${elsewhere} is not offered by the requested resource server${indicators.length > 1 ? 's' : ''}`, elsewhere);
  }
}

/**
 * The resource a request without `resource` is for: the one registered resource server of
 * the client that offers every resource scope asked for. None when only OIDC scopes are
 * asked for (the access token is then the opaque one for userinfo); `invalid_target`,
 * naming the scopes, when they belong to several resource servers or to none together.
 */
export async function defaultResourceFor(ctx: KoaContextWithOIDC, client: Client, rules: ScopeRules): Promise<string | undefined> {
  await refuseUngrantableScopes(ctx, client, rules);
  const wanted = requestedScopes(ctx).filter((scope) => !rules.oidcScopes.has(scope));
  if (wanted.length === 0) return undefined;
  const candidates: string[] = [];
  for (const indicator of client.portcullis_resources ?? []) {
    const offered = new Set((await rules.findResource(ctx, indicator))?.scopes.map((scope) => scope.name));
    if (wanted.every((scope) => offered.has(scope))) candidates.push(indicator);
  }
  const [only] = candidates;
  if (candidates.length === 1 && only !== undefined) return only;
  const named = wanted.join(' ');
  throw new errors.InvalidTarget(
    candidates.length > 1
      ? `scope ${named} is offered by more than one resource server; name one with the resource parameter`
      : `scopes ${named} belong to different resource servers; ask for one resource server's scopes at a time, naming it with the resource parameter`,
  );
}
