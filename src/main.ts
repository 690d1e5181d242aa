import { createServer, type Server } from 'node:http';

import { openRuntime } from './boot.ts';
import { configWarnings, loadRuntimeConfig, type Config } from './config/index.ts';
import { isAppError, oneLine, StartupError } from './errors.ts';
import { closeServer, createPublicServer } from './http/index.ts';
import { createErrorReporter, createLogger, createMetrics, createPrettyDestination, readBuildInfo } from './observability/index.ts';
import { buildServer } from './server.ts';

// The only impure entry of the server: config -> logger -> runtime (database, migrations,
// secrets) -> the assembly (server.ts) -> listen -> graceful shutdown. Two listeners: the
// public one (HOST:PORT) and the management one (MANAGEMENT_HOST:MANAGEMENT_PORT: metrics,
// health, readiness).

/**
 * Listens, or fails with one line naming the setting to change (`PORT`, `MANAGEMENT_PORT`,
 * and the matching host variable when the address itself is the problem).
 */
function listen(server: Server, port: number, host: string, names: { port: string; host: string }): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const fail = (error: NodeJS.ErrnoException) => {
      const address = `${host}:${port}`;
      const message =
        error.code === 'EADDRINUSE'
          ? `${names.port}: ${address} is already in use; stop what listens there or set ${names.port} to a free port`
          : error.code === 'EACCES'
            ? `${names.port}: no permission to listen on ${address}; use a port above 1023 or set ${names.port}`
            : error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND' || error.code === 'EAI_AGAIN'
              ? `${names.host}: ${host} is not an address of this machine; set ${names.host} (e.g. 127.0.0.1 or 0.0.0.0)`
              : `${names.port}, ${names.host}: could not listen on ${address} (${error.code ?? error.message})`;
      reject(new StartupError(message, { cause: error }));
    };
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      resolve();
    });
  });
}

function printBanner(config: Config, managementPort: number): void {
  console.log(`
Portcullis is listening on ${config.tls ? 'https' : 'http'}://${config.host}:${config.port}
  issuer:    ${config.issuer}
  discovery: ${config.issuer}/.well-known/openid-configuration
  metrics, health: http://${config.management.host}:${managementPort}/metrics, /healthz, /readyz

First steps:
  npx portcullis users create --email you@example.com --name "Your Name"   (asks for a password)
  npx portcullis clients create --type web --name "My app" --redirect-uri http://localhost:8080/callback
  npx portcullis demo       (a demo user, API and clients; sign in at the URL it prints, and it shows the tokens)
`);
}

async function main(): Promise<void> {
  const config = loadRuntimeConfig();
  // Sentry (only with SENTRY_DSN) comes first: the logger hands it every error it logs.
  const errorReporter = await createErrorReporter({ dsn: config.sentryDsn, environment: config.env });
  const logger = createLogger({
    level: config.logLevel,
    ...(config.logFormat === 'pretty' && { destination: await createPrettyDestination() }),
    ...(errorReporter.enabled && { reportError: errorReporter.report }),
  });
  for (const warning of configWarnings(config)) logger.warn(warning);
  const metrics = createMetrics({ buildInfo: readBuildInfo() });
  const runtime = await openRuntime(config, logger, { metrics, cacheRegistry: true });
  const built = await buildServer(config, runtime, { logger, metrics }).catch(async (error: unknown) => {
    await runtime.close();
    throw error;
  });

  const managementHandler = built.managementApp.callback();
  const management: Server = createServer((req, res) => void managementHandler(req, res));
  const handler = built.app.callback();
  // https itself with TLS_CERT_FILE and TLS_KEY_FILE; plain http behind a proxy otherwise.
  const server: Server = createPublicServer(config.tls, (req, res) => void handler(req, res));
  server.keepAliveTimeout = 65_000; // longer than common load balancers' idle timeout
  try {
    await listen(management, config.management.port, config.management.host, { port: 'MANAGEMENT_PORT', host: 'MANAGEMENT_HOST' });
    await listen(server, config.port, config.host, { port: 'PORT', host: 'HOST' });
  } catch (error) {
    management.close();
    await built.close();
    await runtime.close();
    throw error;
  }
  built.startBackground();

  const managementAddress = management.address();
  const managementPort = typeof managementAddress === 'object' && managementAddress ? managementAddress.port : config.management.port;
  logger.info(
    { issuer: config.issuer, listen: `${config.host}:${config.port}`, management: `${config.management.host}:${managementPort}` },
    'Portcullis is ready',
  );
  printBanner(config, managementPort);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    // Readiness goes false first, and the public port keeps serving for SHUTDOWN_DRAIN_SECONDS
    // while load balancers notice and stop sending traffic; then it stops accepting and
    // requests in flight finish (within SHUTDOWN_TIMEOUT); then background work and Redis
    // stop, the audit buffer is written and the database closed. The management listener
    // answers (503) until the very end.
    built.health.beginShutdown();
    logger.info({ signal, drainSeconds: config.shutdownDrain }, 'shutting down');
    if (config.shutdownDrain > 0) await new Promise((resolve) => setTimeout(resolve, config.shutdownDrain * 1000));
    const drained = await closeServer(server, { timeoutMs: config.shutdownTimeout * 1000 });
    if (!drained) logger.warn({ timeoutSeconds: config.shutdownTimeout }, 'requests still running at the shutdown timeout were cut off');
    await built.close();
    await runtime.close();
    await errorReporter.flush();
    logger.info('stopped');
    await closeServer(management, { timeoutMs: 1_000 });
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  // A start-up failure is one clear line for the operator; anything else, with its stack.
  // Then exit: what a failed start left open (a database handle, a timer) must not keep
  // the process alive, or a supervisor waits on a server that will never serve.
  if (isAppError(error) && error.expose) console.error(`portcullis: ${oneLine(error.message)}`);
  else console.error(error);
  process.exit(1);
});
