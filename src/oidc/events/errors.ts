import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';

import type { EventDeps, Guard } from './listener.ts';

/**
 * The engine turns unexpected errors into a generic server_error response; log them here
 * with the request id so an operator can find what happened (and, through the logger,
 * report them once). The database being away is not logged here: `databaseOutage` claims
 * those (one line per outage, the response turned into a 503).
 */
export function logServerErrors(provider: Provider, deps: EventDeps, guard: Guard): void {
  provider.on(
    'server_error',
    guard('server_error', (ctx: KoaContextWithOIDC, error: Error) => {
      if (deps.databaseOutage?.claim(ctx, error)) return;
      deps.logger.error({ err: error, requestId: ctx.state.requestId as unknown, route: ctx.oidc?.route }, 'provider error');
    }),
  );
}
