import Provider from 'oidc-provider';

import type { Sealer } from '../crypto/index.ts';
import { discardAudit, type AuditSink } from '../observability/audit-sink.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { observeProvider } from '../observability/provider-events.ts';
import { createAccessTokenVerifier, type AccessTokenVerifier } from './access-token-verifier.ts';
import { answerRevocationInJson } from './answer-revocation-in-json.ts';
import { cachePublishedMetadata } from './cache-published-metadata.ts';
import { spendPushedRequests } from './spend-pushed-requests.ts';
import { extendIntrospectionAndRevocation } from './extend-introspection-and-revocation.ts';
import { buildProviderConfiguration, type ProviderDeps } from './provider-config.ts';
import { createRefreshRotation, type RefreshRotationEvents } from './refresh-rotation.ts';

export interface CreateProviderDeps extends Omit<ProviderDeps, 'rotation'> {
  readonly logger: Logger;
  readonly sealer: Sealer;
  readonly audit?: AuditSink;
  /** Hooks for metrics on grace-window replays. */
  readonly refreshEvents?: RefreshRotationEvents;
  /** Tokens issued, OAuth errors, introspections, refresh reuse and grace hits are counted here. */
  readonly metrics?: Metrics;
}

export interface BuiltProvider {
  readonly provider: Provider;
  /** The one verifier of access tokens: introspection, revocation and our own APIs share it. */
  readonly accessTokens: AccessTokenVerifier;
}

/** Builds the engine and our extensions around its token endpoints. No I/O. */
export function createProvider(deps: CreateProviderDeps): BuiltProvider {
  const audit = deps.audit ?? discardAudit;
  const { metrics } = deps;
  // Reuse is counted by observeProvider, from the engine's own revocation event.
  const refreshEvents = deps.refreshEvents ?? (metrics && { onGraceHit: () => metrics.refreshGraceHits.inc() });
  const rotation = createRefreshRotation({
    store: deps.tokenStore,
    sealer: deps.sealer,
    windowSeconds: deps.config.ttl.refreshGrace,
    // A detected reuse ends the token family, as the engine does, and is told the same way
    // (grant.revoked at the token endpoint: observeProvider records the reuse).
    async revokeFamily(ctx, grantId) {
      await deps.tokenStore.revokeGrants([grantId]);
      ctx.oidc.provider.emit('grant.revoked', ctx, grantId);
    },
    ...(refreshEvents && { events: refreshEvents }),
  });
  const provider = new Provider(deps.config.issuer, buildProviderConfiguration({ ...deps, rotation }));
  // X-Forwarded-* is honoured only when an operator says a proxy sits in front.
  provider.proxy = deps.config.trustProxy;
  // Only the entries our own proxies appended to X-Forwarded-For (as on the parent app).
  provider.maxIpsCount = deps.config.trustProxyHops;
  // Audit events and metrics from the engine's events; its middleware goes first (outermost)
  // so that it sees the responses as the extensions below leave them.
  observeProvider(provider, { audit, metrics, logger: deps.logger });

  // Pre/post middleware around the engine's routes (they run inside its error handling).
  const accessTokens = createAccessTokenVerifier({
    provider,
    tokenStore: deps.tokenStore,
    clients: deps.clients,
    issuer: deps.config.issuer,
    keys: deps.keys.jwks.keys,
  });
  provider.use(cachePublishedMetadata());
  // Outside the extensions below: it sees their revocation answers too.
  provider.use(answerRevocationInJson());
  provider.use(rotation.middleware);
  provider.use(spendPushedRequests(deps.tokenStore));
  provider.use(extendIntrospectionAndRevocation({ verifier: accessTokens, issuer: deps.config.issuer, audit }));

  // The engine turns unexpected errors into a generic server_error response; log them here
  // with the request id so an operator can find what happened.
  provider.on('server_error', (ctx, error) => {
    deps.logger.error({ err: error, requestId: ctx.state.requestId as unknown, route: ctx.oidc?.route }, 'provider error');
  });
  return { provider, accessTokens };
}
