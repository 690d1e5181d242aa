import type Provider from 'oidc-provider';

import { requestFacts, type AuditSink } from '../observability/audit-sink.ts';

/**
 * Records every completed logout. The engine performs the logout itself (at
 * /session/end/confirm), so the event comes from its `end_session.success` notification.
 */
export function auditLogouts(provider: Provider, audit: AuditSink): void {
  provider.on('end_session.success', (ctx) => {
    const everywhere = Boolean(ctx.oidc.params?.logout);
    audit.record({
      type: 'logout',
      actor: ctx.oidc.session?.accountId,
      accountId: ctx.oidc.session?.accountId,
      clientId: ctx.oidc.client?.clientId,
      ...requestFacts(ctx),
      // The whole session, or only the requesting client's part of it ("stay signed in").
      data: { scope: everywhere ? 'session' : 'client' },
    });
  });
}
