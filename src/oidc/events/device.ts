import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';

import { requestFacts } from '../../audit/index.ts';
import type { EventDeps, Guard } from './listener.ts';

// The device flow's start (RFC 8628 3.1-3.2): a client was given a device code and a user
// code. Neither is recorded (the device code is a bearer credential, the user code a short
// one); what the person did with the user code is recorded by the pages
// (interactions/device-pages.ts, device-code-guard.ts).

export function observeDeviceAuthorizations(provider: Provider, deps: EventDeps, guard: Guard): void {
  provider.on(
    'device_authorization.success',
    guard('device_authorization.success', (ctx: KoaContextWithOIDC) => {
      const scope = (ctx.oidc.params?.scope as string | undefined) ?? undefined;
      deps.audit.record({
        type: 'device.authorization_requested',
        ...requestFacts(ctx),
        actor: ctx.oidc.client?.clientId,
        clientId: ctx.oidc.client?.clientId,
        data: { scope },
      });
    }),
  );
}
