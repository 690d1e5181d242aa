import type { ResourceService } from '../clients/index.ts';

// What the consent page lists: each scope the client asks for and does not have yet, in
// words a person understands, grouped by the API (resource server) it opens.

export interface ConsentPromptDetails {
  readonly missingOIDCScope?: readonly string[];
  readonly missingOIDCClaims?: readonly string[];
  readonly missingResourceScopes?: Readonly<Record<string, readonly string[]>>;
}

export interface Permission {
  readonly name: string;
  readonly description: string;
}

export interface ConsentView {
  /** OpenID scopes: who you are, email, profile, offline access. */
  readonly permissions: readonly Permission[];
  /** Individual claims asked for with the `claims` parameter. */
  readonly claims: readonly string[];
  readonly apis: readonly { readonly name: string; readonly indicator: string; readonly permissions: readonly Permission[] }[];
}

const OIDC_SCOPE_DESCRIPTIONS: Readonly<Record<string, string>> = {
  openid: 'Confirm who you are',
  profile: 'See your name and basic profile',
  email: 'See your email address',
  offline_access: 'Keep this access while you are away',
};

export async function consentView(details: ConsentPromptDetails, resources: ResourceService): Promise<ConsentView> {
  const oidcScopes = details.missingOIDCScope ?? [];
  // `openid` is implied by any other OIDC scope; listed alone it is the whole request.
  const permissions = oidcScopes
    .filter((name) => name !== 'openid' || oidcScopes.length === 1)
    .map((name) => ({ name, description: OIDC_SCOPE_DESCRIPTIONS[name] ?? name }));

  const apis = [];
  for (const [indicator, names] of Object.entries(details.missingResourceScopes ?? {})) {
    const resource = await resources.find(indicator);
    apis.push({
      name: resource?.name || indicator,
      indicator,
      permissions: names.map((name) => ({
        name,
        description: resource?.scopes.find((scope) => scope.name === name)?.description || name,
      })),
    });
  }
  return { permissions, claims: [...(details.missingOIDCClaims ?? [])], apis };
}
