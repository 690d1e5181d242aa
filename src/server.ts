import type { Redis } from 'ioredis';
import type Koa from 'koa';
import type Provider from 'oidc-provider';

import { connectLimitRedis, createLimitRedis } from './abuse/index.ts';
import { createApp } from './app.ts';
import type { Runtime } from './boot.ts';
import type { Config } from './config/index.ts';
import { withAuditDefaults } from './audit/index.ts';
import { createDatabaseOutage, createHousekeeping } from './db/index.ts';
import { createHealth, createManagementApp, type Health } from './http/index.ts';
import {
  createDeviceFlowPages,
  createLogoutSource,
  createPageRenderer,
  createPostLogoutSuccessSource,
  createRenderError,
  createResetRequestQueue,
  loadAssets,
  type ResetRequestQueue,
} from './interactions/index.ts';
import { createMailer, type Mailer } from './mail/index.ts';
import type { Logger, Metrics } from './observability/index.ts';
import {
  createKeyPolicy,
  createKeyRotation,
  createKeyWatcher,
  createLiveProvider,
  createPrismaKeyStore,
  createMetadataDocuments,
  createProvider,
  createStateSources,
  loadKeys,
  type KeyMaterial,
} from './oidc/index.ts';

// The one assembly of the server, used by main.ts and the test server alike: from an open
// runtime (database, services, audit) to the public app and the management app. What it
// opens itself (Redis, the housekeeping timer) close() closes; the runtime stays with
// whoever opened it, and listening with the caller (main.ts binds HOST:PORT, tests an
// ephemeral port).

export interface ServerDeps {
  readonly logger: Logger;
  /** The process's registry: the management app serves it. */
  readonly metrics: Metrics;
}

export interface BuiltServer {
  /** The public app: the issuer's address. */
  readonly app: Koa;
  /** Metrics, liveness and readiness, for the management listener. */
  readonly managementApp: Koa;
  /** The engine as first built (a key change builds a new one: oidc/live-provider.ts). */
  readonly provider: Provider;
  readonly health: Health;
  /** The keys the engine uses now. */
  keys(): KeyMaterial;
  /** Re-reads the keys now (tests; the watcher does it on every change). */
  refreshKeys(): Promise<void>;
  /** REDIS_URL's connection: request budgets and throttles shared by every instance. */
  readonly redis: Redis | undefined;
  /** Outgoing mail's background queue (close() waits for sends under way). */
  readonly mailer: Mailer;
  /** Password reset requests' background work (close() lets what was taken finish). */
  readonly resetRequests: ResetRequestQueue;
  /** Starts the background work (expired-row housekeeping); call once listening. */
  startBackground(): void;
  /** Stops the background work and closes Redis. Call after the listeners closed; idempotent. */
  close(): Promise<void>;
}

/**
 * REDIS_URL: connected before the first request when it answers; when it does not, the
 * start goes on (one line logged) and the client reconnects in the background, the limits
 * counting in memory meanwhile (abuse/redis.ts).
 */
async function openLimitRedis(config: Config, logger: Logger): Promise<Redis | undefined> {
  if (!config.redis) return undefined;
  const redis = createLimitRedis(config.redis.url, logger, { whenUnavailable: config.redis.whenUnavailable });
  await connectLimitRedis(redis);
  return redis;
}

export async function buildServer(config: Config, runtime: Runtime, deps: ServerDeps): Promise<BuiltServer> {
  const { logger, metrics } = deps;
  const { services } = runtime;
  const audit = runtime.auditSink;
  // Keys: created at the first start, then rotated by announcement (oidc/key-rotation.ts).
  const keyStore = createPrismaKeyStore(runtime.database.prisma);
  const keyPolicy = createKeyPolicy(config, services.resources);
  const systemAudit = withAuditDefaults(audit, { actor: 'system' });
  let keys = await loadKeys(keyStore, runtime.sealer, await keyPolicy(), systemAudit);
  // Announced rotation: the schedule below (maintain), and the admin API's /keys.
  const rotation = createKeyRotation({ store: keyStore, sealer: runtime.sealer, policy: keyPolicy, audit: systemAudit });
  // Templates are re-read on every render only in development, where they are edited.
  const render = createPageRenderer({ cache: config.env !== 'development' });
  // Requests failed by an unreachable database: 503 with Retry-After, one log line per outage.
  const databaseOutage = createDatabaseOutage({ pool: runtime.database.pool, logger, metrics });
  // The engine and the one verifier of access tokens, which the app's account API shares;
  // built again with the new keys whenever they change.
  // Client ID Metadata Documents: one fetcher and cache for every engine built below, so a
  // key change keeps what was fetched (and closes no connection pool of an engine's own).
  const metadataDocuments = config.clientIdMetadataDocuments.enabled
    ? createMetadataDocuments({ allowPrivateHosts: config.clientIdMetadataDocuments.allowPrivateHosts, policy: config.clientRegistration.policy, resources: services.resources, audit })
    : undefined;
  const buildProvider = (material: KeyMaterial) =>
    createProvider({
      config,
      logger,
      sql: runtime.database.pool,
      sealer: runtime.sealer,
      keys: material,
      ...services,
      renderError: createRenderError(render),
      logoutSource: createLogoutSource(render, services.accounts),
      deviceFlowPages: createDeviceFlowPages(render, audit),
      postLogoutSuccessSource: createPostLogoutSuccessSource(render),
      audit,
      metrics,
      databaseOutage,
      metadataDocuments,
    });
  const live = createLiveProvider(buildProvider(keys));
  const { provider } = live.current();
  // The files first: a start that fails after Redis opened would leave it holding the process.
  const assets = loadAssets();
  const redis = await openLimitRedis(config, logger);
  // Opens no connection until a message is sent.
  const mailer = createMailer(config, logger);
  const resetRequests = createResetRequestQueue({ logger });
  let app: Koa;
  try {
    app = createApp({ config, logger, provider, mountProvider: live.middleware, answerPublishedDocuments: live.answerPublishedDocuments, cookieKeys: keys.cookieKeys, render, assets, accessTokens: live.accessTokens, audit, metrics, redis, databaseOutage, mailer, resetRequests, keyRotation: rotation, ...services });
  } catch (error) {
    redis?.disconnect();
    throw error;
  }

  // Sessions and key age for /metrics, read at scrape time (cached), never per request.
  metrics.trackState(createStateSources(runtime.database.prisma, () => keys));
  // Ready only with both the signing keys and the cookie keys the sessions need.
  // and in step with the database's (watch-keys.ts): an instance that cannot read key
  // changes must not keep publishing and signing with keys the others withdrew.
  const health = createHealth({
    pool: runtime.database.pool,
    keysLoaded: () => keys.jwks.keys.length > 0 && keys.cookieKeys.length > 0 && keyWatcher.inStep(),
  });
  const keyWatcher = createKeyWatcher({
    store: keyStore,
    sealer: runtime.sealer,
    policy: keyPolicy,
    initial: keys,
    feed: runtime.changes,
    maintain: () => rotation.maintain(),
    refreshMs: config.keys.refreshInterval * 1000,
    staleAfterMs: Math.max(config.keys.jwksMaxAge, 2 * config.keys.refreshInterval) * 1000,
    logger,
    onChange(material) {
      // Built first: if it throws, nothing has changed and the next round tries again.
      const next = buildProvider(material);
      keys = material;
      // Cookies: the parent app signs and verifies them, the first engine reads them in
      // interactionDetails; both take the new list for the next request.
      app.keys = [...material.cookieKeys];
      provider.keys = [...material.cookieKeys];
      live.replace(next);
    },
  });
  const housekeeping = createHousekeeping({
    pool: runtime.database.pool,
    logger,
    metrics,
    eventRetentionDays: config.eventRetentionDays,
    refreshGraceSeconds: config.ttl.refreshGrace,
    intervalMs: config.housekeepingInterval * 1000,
  });
  let closed: Promise<void> | undefined;
  return {
    app,
    managementApp: createManagementApp({ metrics, health }),
    provider,
    health,
    keys: () => keys,
    refreshKeys: () => keyWatcher.refresh(),
    redis,
    mailer,
    resetRequests,
    startBackground: () => {
      housekeeping.start();
      keyWatcher.start();
    },
    close: () =>
      (closed ??= (async () => {
        await keyWatcher.stop();
        await housekeeping.stop();
        databaseOutage.close();
        await metadataDocuments?.close();
        // Reset requests first: they hand mail to the mailer and events to the audit writer
        // (flushed when the runtime closes, after this).
        // Each within a bound: a hung SMTP server must not hold the audit flush that follows
        // past an orchestrator's kill: what is still in hand then is abandoned.
        await settleWithin(resetRequests.close(), CLOSE_QUEUES_MS);
        await settleWithin(mailer.close(), CLOSE_QUEUES_MS);
        await redis?.quit().catch(() => redis.disconnect());
      })()),
  };
}

/** How long shutdown waits for the reset requests and the mail still in hand. */
const CLOSE_QUEUES_MS = 5_000;

/** Waits for `work`, or `ms`, whichever comes first; never throws. */
async function settleWithin(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work.catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
