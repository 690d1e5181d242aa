import Provider from 'oidc-provider';

import type { Logger } from '../observability/logger.ts';
import { buildProviderConfiguration, type ProviderDeps } from './provider-config.ts';

/** Builds the engine. No I/O: keys and clients come in through deps. */
export function createProvider(deps: ProviderDeps & { logger: Logger }): Provider {
  const provider = new Provider(deps.config.issuer, buildProviderConfiguration(deps));
  // X-Forwarded-* is honoured only when an operator says a proxy sits in front.
  provider.proxy = deps.config.trustProxy;
  // The engine turns unexpected errors into a generic server_error response; log them here
  // with the request id so an operator can find what happened.
  provider.on('server_error', (ctx, error) => {
    deps.logger.error({ err: error, requestId: ctx.state.requestId as unknown, route: ctx.oidc?.route }, 'provider error');
  });
  return provider;
}
