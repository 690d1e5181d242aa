import { Provider } from './engine.ts';

import type { Sealer } from '../crypto/index.ts';
import { discardAudit, type AuditSink } from '../audit/index.ts';
import type { Logger, Metrics } from '../observability/index.ts';
import { createAccessTokenVerifier, type AccessTokenVerifier } from './access-token-verifier.ts';
import type { DatabaseOutage } from '../db/index.ts';
import type { ServedGrantType } from '../config/index.ts';
import { answerDatabaseOutage } from './answer-database-outage.ts';
import { answerRevocationInJson } from './answer-revocation-in-json.ts';
import { createPublishedDocuments, type PublishedDocuments } from './published-documents.ts';
import { observeProvider } from './events/index.ts';
import { extendIntrospection } from './extend-introspection.ts';
import { extendRevocation } from './extend-revocation.ts';
import { spendPushedRequests } from './spend-pushed-requests.ts';
import { paceDevicePolling } from './pace-device-polling.ts';
import { answerUnauthorizedClients } from './answer-unauthorized-clients.ts';
import { buildProviderConfiguration, type ProviderDeps } from './provider-config.ts';
import { createClientRegistration } from './client-registration.ts';
import { servedGrants } from './served-grants.ts';
import { createRefreshRotation, type RefreshRotationEvents } from './refresh-rotation.ts';
import { createRequestAccounts } from './request-accounts.ts';
import { TOKEN_EXCHANGE_DUPLICATES, TOKEN_EXCHANGE_PARAMETERS, tokenExchangeHandler } from './token-exchange.ts';
import { TOKEN_EXCHANGE_GRANT } from '../clients/index.ts';

export interface CreateProviderDeps extends Omit<ProviderDeps, 'rotation' | 'clientRegistration'> {
  readonly logger: Logger;
  readonly sealer: Sealer;
  readonly audit?: AuditSink;
  /** Hooks for metrics on grace-window replays. */
  readonly refreshEvents?: RefreshRotationEvents;
  /** Tokens issued, OAuth errors, introspections, refresh reuse and grace hits are counted here. */
  readonly metrics?: Metrics;
  /** Database outages: requests the engine failed for one are answered 503, logged once (answer-database-outage.ts). */
  readonly databaseOutage?: DatabaseOutage | undefined;
}

export interface BuiltProvider {
  readonly provider: Provider;
  /** The one verifier of access tokens: introspection and revocation here, our own APIs in the app. */
  readonly accessTokens: AccessTokenVerifier;
  /** Discovery and the JWKS as this engine answered them, answered again without it. */
  readonly publishedDocuments: PublishedDocuments;
}

/** Builds the engine, the access-token verifier over it, and our extensions around its token endpoints. No I/O. */
export function createProvider(deps: CreateProviderDeps): BuiltProvider {
  const audit = deps.audit ?? discardAudit;
  const { metrics } = deps;
  // Reuse is counted by observeProvider, from the engine's own revocation event.
  const refreshEvents = deps.refreshEvents ?? (metrics && { onGraceHit: () => metrics.refreshGraceHits.inc() });
  const rotation = createRefreshRotation({
    store: deps.tokenStore,
    sealer: deps.sealer,
    windowSeconds: deps.config.ttl.refreshGrace,
    // A completed refresh whose answer an outage swallowed is retried only once the
    // database is back: the window does not run meanwhile.
    ...(deps.databaseOutage && { paused: (from: number, to: number) => deps.databaseOutage!.downBetween(from, to) }),
    // A detected reuse ends the token family, as the engine does, and is told the same way
    // (grant.revoked at the token endpoint: observeProvider records the reuse).
    async revokeFamily(ctx, grantId) {
      await deps.tokenStore.revokeGrants([grantId]);
      ctx.oidc.provider.emit('grant.revoked', ctx, grantId);
    },
    ...(refreshEvents && { events: refreshEvents }),
  });
  const clientRegistration = createClientRegistration({
    config: deps.config.clientRegistration,
    clients: deps.clients,
    resources: deps.resources,
    registrationTokens: deps.registrationTokens,
    engineScopes: servedGrants(deps.config).scopes,
  });
  const provider = new Provider(deps.config.issuer, buildProviderConfiguration({ ...deps, rotation, clientRegistration }));
  // X-Forwarded-* is honoured only when an operator says a proxy sits in front.
  provider.proxy = deps.config.trustProxy;
  // Only the entries our own proxies appended to X-Forwarded-For (as on the parent app).
  provider.maxIpsCount = deps.config.trustProxyHops;
  // Every engine event listener (audit events, metrics, the server_error log, events/); its
  // middleware goes first (outermost) so that it sees the responses as the extensions below
  // leave them.
  const outageAnswer = deps.databaseOutage && answerDatabaseOutage({ outage: deps.databaseOutage, renderError: deps.renderError });
  observeProvider(provider, { audit, metrics, logger: deps.logger, databaseOutage: outageAnswer });

  const served = (grant: ServedGrantType) => deps.config.grantTypes.includes(grant);
  // Opaque tokens are found in the engine; JWTs by our keys, the store and the registry.
  const accessTokens = createAccessTokenVerifier({
    provider,
    tokenStore: deps.tokenStore,
    clients: deps.clients,
    issuer: deps.config.issuer,
    keys: deps.keys.jwks.keys,
    clientCredentialsServed: served('client_credentials'),
  });

  // Pre/post middleware around the engine's routes (they run inside its error handling).
  // Outermost: a response the engine failed for a database outage becomes a 503.
  if (outageAnswer) provider.use(outageAnswer.middleware);
  const publishedDocuments = createPublishedDocuments({ jwksMaxAge: deps.config.keys.jwksMaxAge, jwksPath: provider.pathFor('jwks', { mountPath: '' }) /* routed at the root, whatever path ISSUER has (http/engine-paths.ts) */ });
  provider.use(publishedDocuments.record);
  // Outside the extensions below: it sees their revocation answers too.
  provider.use(answerRevocationInJson());
  provider.use(rotation.middleware);
  provider.use(spendPushedRequests(deps.tokenStore));
  provider.use(answerUnauthorizedClients());
  // Registration answers show the client as the registry stored it (client-registration.ts).
  if (deps.config.clientRegistration.mode !== 'off') provider.use(clientRegistration.answers);
  if (deps.config.deviceFlow) provider.use(paceDevicePolling(deps.sql));
  // Token exchange (RFC 8693), where GRANT_TYPES serves it; each client by its registration.
  if (served(TOKEN_EXCHANGE_GRANT)) {
    const exchange = tokenExchangeHandler({
      verifier: accessTokens,
      accounts: createRequestAccounts(deps.accounts),
      resources: deps.resources,
      grants: deps.tokenStore,
      audit,
      grantTtl: deps.config.ttl.grant,
    });
    provider.registerGrantType(TOKEN_EXCHANGE_GRANT, exchange, TOKEN_EXCHANGE_PARAMETERS, TOKEN_EXCHANGE_DUPLICATES);
  }
  provider.use(extendIntrospection({ verifier: accessTokens, issuer: deps.config.issuer }));
  provider.use(
    extendRevocation({
      verifier: accessTokens,
      audit,
      grants: deps.tokenStore,
      unserved: { refreshTokens: !served('refresh_token'), clientCredentials: !served('client_credentials') },
    }),
  );
  return { provider, accessTokens, publishedDocuments };
}
