import type { GrantSummary } from './grant-service.ts';

/** What is shown of a grant, wherever it is shown (`portcullis grants list --json`, the admin API). */
export function grantView(grant: GrantSummary) {
  return {
    id: grant.id,
    clientId: grant.clientId,
    accountId: grant.accountId,
    scopes: [...grant.scopes],
    resources: Object.fromEntries(Object.entries(grant.resources).map(([indicator, scopes]) => [indicator, [...scopes]])),
    createdAt: grant.createdAt.toISOString(),
    expiresAt: grant.expiresAt?.toISOString() ?? null,
  };
}
