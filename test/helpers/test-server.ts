import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';

import { createArgon2Hasher } from '../../src/accounts/index.ts';
import { createApp } from '../../src/app.ts';
import { loadConfig, type Config } from '../../src/config/index.ts';
import { createSealer } from '../../src/crypto/index.ts';
import { createLogoutSource, createPageRenderer, createRenderError } from '../../src/interactions/index.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createProvider, loadKeyMaterial } from '../../src/oidc/index.ts';
import { createServices, type Services } from '../../src/services.ts';
import { createMigratedDatabase } from './test-database.ts';

export const TEST_MASTER_SECRET = 'test-master-secret-that-is-long-enough-0123456789';

export interface TestServer {
  readonly issuer: string;
  readonly config: Config;
  readonly services: Services;
  readonly database: Awaited<ReturnType<typeof createMigratedDatabase>>;
  /** Everything the server logged, as text. */
  logs(): string;
  close(): Promise<void>;
}

/**
 * A real Portcullis on a real HTTP port over a fresh database (embedded or Postgres, see
 * test-database.ts). The issuer is the bound address, so openid-client talks to it as to
 * any deployment.
 */
export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const database = await createMigratedDatabase();
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: String(port),
    ISSUER: `http://127.0.0.1:${port}`,
    DATABASE_URL: database.testDatabase.url,
    MASTER_SECRET: TEST_MASTER_SECRET,
    LOG_LEVEL: 'info',
    ...env,
  });
  let logText = '';
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logText += chunk.toString();
      callback();
    },
  });
  const logger = createLogger({ level: config.logLevel, destination });
  const sealer = createSealer(TEST_MASTER_SECRET);
  // Cheaper argon2 than production's: the flows test the protocol, not the hash cost.
  const services = createServices({
    prisma: database.prisma,
    sealer,
    hasher: createArgon2Hasher({ memoryCost: 1024, timeCost: 1, parallelism: 1 }),
  });
  const keys = await loadKeyMaterial(database.prisma, sealer);
  const render = createPageRenderer({ cache: true });
  const provider = createProvider({
    config,
    logger,
    prisma: database.prisma,
    keys,
    ...services,
    renderError: createRenderError(render),
    logoutSource: createLogoutSource(render),
  });
  const app = createApp({ config, logger, provider, cookieKeys: keys.cookieKeys, render, ...services });
  const handler = app.callback();
  server.on('request', (req, res) => void handler(req, res));

  return {
    issuer: config.issuer,
    config,
    services,
    database,
    logs: () => logText,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await database.destroy();
    },
  };
}
