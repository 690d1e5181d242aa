import type { Grant } from 'oidc-provider';

import { OIDC_SCOPES, type ResourceService } from '../clients/index.ts';
import { isMessageKey, type Translate } from './messages/index.ts';

// What the consent page lists: everything the client asks for in this request, in words a
// person understands, grouped by the API (resource server) it opens. What the person
// already allowed the client is listed too, marked as such, so a returning person asked
// again (prompt=consent) sees what the app will get rather than an empty dialog.

export interface ConsentPromptDetails {
  readonly missingOIDCScope?: readonly string[];
  readonly missingOIDCClaims?: readonly string[];
  readonly missingResourceScopes?: Readonly<Record<string, readonly string[]>>;
}

export interface Permission {
  readonly name: string;
  readonly description: string;
  /** Allowed before: this consent would not add it. */
  readonly allowed: boolean;
}

export interface ConsentView {
  /** OpenID scopes: who you are, email, profile, offline access. */
  readonly permissions: readonly Permission[];
  /** Individual claims asked for with the `claims` parameter. */
  readonly claims: readonly string[];
  readonly apis: readonly { readonly name: string; readonly indicator: string; readonly permissions: readonly Permission[] }[];
}

export interface ConsentRequest {
  readonly details: ConsentPromptDetails;
  /** The scope parameter of the authorization request (after the engine's checks). */
  readonly scope: unknown;
  /** The grant the person already has for this client, if any. */
  readonly grant: Pick<Grant, 'getOIDCScopeFiltered' | 'getResourceScopeFiltered' | 'resources'> | undefined;
}

const OIDC = new Set<string>(OIDC_SCOPES);
const words = (text: string | undefined) => (text ? text.split(' ').filter(Boolean) : []);

export async function consentView(request: ConsentRequest, resources: ResourceService, t: Translate): Promise<ConsentView> {
  const { details, grant } = request;
  const requested = new Set(words(typeof request.scope === 'string' ? request.scope : undefined));
  const missingOidc = new Set(details.missingOIDCScope ?? []);
  const allowedOidc = new Set(words(grant?.getOIDCScopeFiltered(requested)));
  const oidcScopes = [...new Set([...[...requested].filter((name) => OIDC.has(name) && allowedOidc.has(name)), ...missingOidc])];
  // `openid` is implied by any other OIDC scope; listed alone it is the whole request.
  const permissions = oidcScopes
    .filter((name) => name !== 'openid' || oidcScopes.length === 1)
    .map((name) => {
      const key = `scope.${name}`;
      return { name, description: isMessageKey(key) ? t(key) : name, allowed: !missingOidc.has(name) };
    });

  const apiScopes = new Map<string, { missing: Set<string>; allowed: Set<string> }>();
  for (const [indicator, names] of Object.entries(details.missingResourceScopes ?? {})) {
    apiScopes.set(indicator, { missing: new Set(names), allowed: new Set() });
  }
  for (const indicator of Object.keys(grant?.resources ?? {})) {
    const allowed = words(grant?.getResourceScopeFiltered(indicator, requested));
    if (allowed.length === 0) continue;
    const entry = apiScopes.get(indicator) ?? { missing: new Set<string>(), allowed: new Set<string>() };
    for (const name of allowed) if (!entry.missing.has(name)) entry.allowed.add(name);
    apiScopes.set(indicator, entry);
  }
  const apis = [];
  for (const [indicator, { missing, allowed }] of apiScopes) {
    const resource = await resources.find(indicator);
    const describe = (name: string, isAllowed: boolean) => ({
      name,
      description: resource?.scopes.find((scope) => scope.name === name)?.description || name,
      allowed: isAllowed,
    });
    apis.push({
      name: resource?.name || indicator,
      indicator,
      permissions: [...[...missing].map((name) => describe(name, false)), ...[...allowed].map((name) => describe(name, true))],
    });
  }
  return { permissions, claims: [...(details.missingOIDCClaims ?? [])], apis };
}
