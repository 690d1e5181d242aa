import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';

import { requestFacts } from '../../audit/index.ts';
import type { EventDeps, Guard } from './listener.ts';

/**
 * Records every completed logout. The engine performs the logout itself (at
 * /session/end/confirm), so the event comes from its `end_session.success` notification.
 */
export function observeLogouts(provider: Provider, deps: EventDeps, guard: Guard): void {
  const { audit } = deps;
  provider.on(
    'end_session.success',
    guard('end_session.success', (ctx: KoaContextWithOIDC) => {
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
    }),
  );
}
