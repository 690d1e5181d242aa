import { createServer, type Server } from 'node:http';

import { connectLimitRedis, createLimitRedis } from './abuse/index.ts';
import { createApp } from './app.ts';
import { openRuntime } from './boot.ts';
import { loadConfig } from './config/index.ts';
import { isAppError, StartupError } from './errors.ts';
import {
  createLogoutSource,
  createPageRenderer,
  createPostLogoutSuccessSource,
  createRenderError,
} from './interactions/index.ts';
import { createHousekeeping } from './db/housekeeping.ts';
import { closeServer } from './http/close-server.ts';
import { createHealth } from './http/health.ts';
import { createManagementApp } from './http/management-app.ts';
import { createPublicServer } from './http/tls.ts';
import { createErrorReporter } from './observability/error-reporter.ts';
import { createLogger, createPrettyDestination } from './observability/logger.ts';
import { createMetrics } from './observability/metrics.ts';
import { createProvider, loadKeyMaterial } from './oidc/index.ts';

// The only impure entry of the server: config -> database -> keys -> app -> listen ->
// graceful shutdown. Two listeners: the public one (HOST:PORT) and the management one
// (MANAGEMENT_HOST:MANAGEMENT_PORT: metrics, health, readiness).

/** Listens, or fails with one line an operator can act on (port taken, no permission). */
function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const fail = (error: NodeJS.ErrnoException) => {
      const reason = error.code === 'EADDRINUSE' ? 'the address is in use' : error.code === 'EACCES' ? 'permission denied' : error.message;
      reject(new StartupError(`could not listen on ${host}:${port}: ${reason}`, { cause: error }));
    };
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      resolve();
    });
  });
}

async function main(): Promise<void> {
  const config = loadConfig();
  // Sentry (only with SENTRY_DSN) comes first: the logger hands it every error it logs.
  const errorReporter = await createErrorReporter({ dsn: config.sentryDsn, environment: config.env });
  const logger = createLogger({
    level: config.logLevel,
    ...(config.logFormat === 'pretty' && { destination: await createPrettyDestination() }),
    ...(errorReporter.enabled && { reportError: errorReporter.report }),
  });
  const metrics = createMetrics();
  const runtime = await openRuntime(config, logger, { metrics });
  const keys = await loadKeyMaterial(runtime.database.prisma, runtime.sealer, runtime.audit);

  const render = createPageRenderer({ cache: config.production });
  const { provider, accessTokens } = createProvider({
    config,
    logger,
    prisma: runtime.database.prisma,
    sealer: runtime.sealer,
    keys,
    ...runtime.services,
    renderError: createRenderError(render),
    logoutSource: createLogoutSource(render, runtime.services.accounts),
    postLogoutSuccessSource: createPostLogoutSuccessSource(render),
    audit: runtime.audit,
    metrics,
  });
  // REDIS_URL: every instance spends from one set of budgets. One that does not answer at
  // start stops the start; later outages make the limits fail open (logged).
  const redis = config.redis ? createLimitRedis(config.redis.url, logger) : undefined;
  if (redis) {
    await connectLimitRedis(redis).catch(async (error: unknown) => {
      redis.disconnect();
      await runtime.close();
      throw new StartupError(`REDIS_URL: cannot reach Redis (${(error as Error).message})`, { cause: error });
    });
  }
  if (config.production && !config.trustProxy && !config.tls && !['localhost', '127.0.0.1', '[::1]'].includes(new URL(config.issuer).hostname)) {
    logger.warn('the issuer is https but requests arrive over plain http: set TRUST_PROXY=true behind a TLS-terminating proxy, or TLS_CERT_FILE and TLS_KEY_FILE; until then cookies are not marked Secure');
  }
  const app = createApp({ config, logger, provider, cookieKeys: keys.cookieKeys, render, accessTokens, audit: runtime.audit, metrics, redis, ...runtime.services });

  const health = createHealth({ pool: runtime.database.pool, keysLoaded: () => keys.jwks.keys.length > 0 && keys.cookieKeys.length > 0 });
  const managementHandler = createManagementApp({ metrics, health }).callback();
  const management: Server = createServer((req, res) => void managementHandler(req, res));
  const handler = app.callback();
  // https itself with TLS_CERT_FILE and TLS_KEY_FILE; plain http behind a proxy otherwise.
  const server: Server = createPublicServer(config.tls, (req, res) => void handler(req, res));
  server.keepAliveTimeout = 65_000; // longer than common load balancers' idle timeout
  try {
    await listen(management, config.management.port, config.management.host);
    await listen(server, config.port, config.host);
  } catch (error) {
    management.close();
    redis?.disconnect();
    await runtime.close();
    throw error;
  }
  const housekeeping = createHousekeeping({
    pool: runtime.database.pool,
    logger,
    metrics,
    eventRetentionDays: config.eventRetentionDays,
    refreshGraceSeconds: config.ttl.refreshGrace,
    intervalMs: config.housekeepingInterval * 1000,
  });
  housekeeping.start();

  const managementAddress = management.address();
  const managementPort = typeof managementAddress === 'object' && managementAddress ? managementAddress.port : config.management.port;
  logger.info(
    { issuer: config.issuer, listen: `${config.host}:${config.port}`, management: `${config.management.host}:${managementPort}` },
    'Portcullis is ready',
  );
  console.log(`
Portcullis is listening on ${config.tls ? 'https' : 'http'}://${config.host}:${config.port}
  issuer:    ${config.issuer}
  discovery: ${config.issuer}/.well-known/openid-configuration
  metrics, health: http://${config.management.host}:${managementPort}/metrics, /healthz, /readyz

First steps:
  npx portcullis users create --email you@example.com --name "Your Name"   (asks for a password)
  npx portcullis clients create --type web --name "My app" --redirect-uri http://localhost:8080/callback
  npx portcullis demo       (a demo user and clients, with a ready authorization URL)
`);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    // Readiness goes false first, so load balancers stop sending traffic; then requests in
    // flight finish (within SHUTDOWN_TIMEOUT); then the audit buffer is written and the
    // database closed. The management listener answers (503) until the very end.
    health.beginShutdown();
    logger.info({ signal }, 'shutting down');
    await housekeeping.stop();
    const drained = await closeServer(server, { timeoutMs: config.shutdownTimeout * 1000 });
    if (!drained) logger.warn({ timeoutSeconds: config.shutdownTimeout }, 'requests still running at the shutdown timeout were cut off');
    await runtime.close();
    await redis?.quit().catch(() => {});
    await errorReporter.flush();
    logger.info('stopped');
    await closeServer(management, { timeoutMs: 1_000 });
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  // A start-up failure is one clear line for the operator; anything else, with its stack.
  if (isAppError(error) && error.expose) console.error(`portcullis: ${error.message}`);
  else console.error(error);
  process.exitCode = 1;
});
