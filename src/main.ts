import { createServer, type Server } from 'node:http';

import { createApp } from './app.ts';
import { openRuntime } from './boot.ts';
import { loadConfig } from './config/index.ts';
import { isAppError } from './errors.ts';
import {
  createLogoutSource,
  createPageRenderer,
  createRenderError,
} from './interactions/index.ts';
import { createLogger } from './observability/logger.ts';
import { createProvider, loadKeyMaterial } from './oidc/index.ts';

// The only impure entry of the server: config -> database -> keys -> app -> listen ->
// graceful shutdown.

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel });
  const runtime = await openRuntime(config, logger);
  const keys = await loadKeyMaterial(runtime.database.prisma, runtime.sealer);

  const render = createPageRenderer({ cache: config.production });
  const provider = createProvider({
    config,
    logger,
    prisma: runtime.database.prisma,
    keys,
    ...runtime.services,
    renderError: createRenderError(render),
    logoutSource: createLogoutSource(render),
  });
  const app = createApp({ config, logger, provider, cookieKeys: keys.cookieKeys, render, ...runtime.services });

  const handler = app.callback();
  const server: Server = createServer((req, res) => void handler(req, res));
  server.keepAliveTimeout = 65_000; // longer than common load balancers' idle timeout
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, resolve);
  });

  logger.info({ issuer: config.issuer, listen: `${config.host}:${config.port}` }, 'Portcullis is ready');
  console.log(`
Portcullis is listening on http://${config.host}:${config.port}
  issuer:    ${config.issuer}
  discovery: ${config.issuer}/.well-known/openid-configuration

First steps:
  npx portcullis users create --email you@example.com --name "Your Name"   (asks for a password)
  npx portcullis clients create --type web --name "My app" --redirect-uri http://localhost:8080/callback
  npx portcullis demo       (a demo user and clients, with a ready authorization URL)
`);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const forced = setTimeout(() => server.closeAllConnections(), 10_000);
    forced.unref();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    await runtime.close();
    logger.info('stopped');
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
