import type { Configuration, Grant, KoaContextWithOIDC } from 'oidc-provider';

import type { ConsentRecord, ConsentStore } from './token-store.ts';

// A grant is one authorization: one sign-in of one person to one app, on one device. Its
// tokens form one family, so signing out, revoking, or a detected refresh-token reuse on
// one device ends that device's access and nothing else. What the person allowed the app
// is remembered apart from grants (the consents table), and each new grant starts from
// it, so a returning person, on any device, is asked only for what they never allowed.

type LoadExistingGrant = NonNullable<Configuration['loadExistingGrant']>;

/** What a grant holds, as remembered consent. */
export function consentOf(grant: Pick<Grant, 'openid' | 'resources'>): ConsentRecord {
  const resources: Record<string, string> = {};
  for (const [indicator, scope] of Object.entries(grant.resources ?? {})) {
    if (typeof scope === 'string' && scope) resources[indicator] = scope;
  }
  return {
    oidcScope: grant.openid?.scope ?? '',
    oidcClaims: [...(grant.openid?.claims ?? [])],
    resourceScopes: resources,
  };
}

/**
 * The engine's loadExistingGrant: this browser session's grant for the client when it has
 * a live one (the engine's default), else a new grant holding what the person allowed the
 * client before, else none (the engine starts an empty one and asks for consent).
 */
export function createLoadExistingGrant(store: ConsentStore): LoadExistingGrant {
  return async (ctx: KoaContextWithOIDC) => {
    const clientId = ctx.oidc.client?.clientId;
    const grantId = ctx.oidc.result?.consent?.grantId ?? (clientId ? ctx.oidc.session?.grantIdFor(clientId) : undefined);
    if (grantId) {
      const grant = await ctx.oidc.provider.Grant.find(grantId);
      if (grant) return grant;
    }
    const accountId = ctx.oidc.session?.accountId;
    if (!accountId || !clientId) return undefined;
    const consent = await store.findConsent(accountId, clientId);
    if (!consent) return undefined;
    const grant = new ctx.oidc.provider.Grant({ accountId, clientId });
    if (consent.oidcScope) grant.addOIDCScope(consent.oidcScope);
    if (consent.oidcClaims.length > 0) grant.addOIDCClaims([...consent.oidcClaims]);
    for (const [indicator, scope] of Object.entries(consent.resourceScopes)) grant.addResourceScope(indicator, scope);
    await grant.save();
    return grant;
  };
}
