import type { GrantSummary, SessionSummary } from './grant-service.ts';

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

/** What is shown of a browser session (the admin API). */
export function sessionView(session: SessionSummary) {
  return {
    id: session.id,
    signedInAt: session.signedInAt?.toISOString() ?? null,
    expiresAt: session.expiresAt?.toISOString() ?? null,
    acr: session.acr,
    amr: [...session.amr],
    clients: session.clients.map(({ clientId, grantId }) => ({ clientId, grantId })),
  };
}
