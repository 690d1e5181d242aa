import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';

import type { Redis } from 'ioredis';

import { connectLimitRedis, createLimitRedis } from '../../src/abuse/index.ts';
import { createArgon2Hasher, type PasswordHasher } from '../../src/accounts/index.ts';
import { createApp } from '../../src/app.ts';
import { loadConfig, type Config } from '../../src/config/index.ts';
import { createSealer } from '../../src/crypto/index.ts';
import {
  createLogoutSource,
  createPageRenderer,
  createPostLogoutSuccessSource,
  createRenderError,
} from '../../src/interactions/index.ts';
import { createHealth, type Health } from '../../src/http/health.ts';
import { createManagementApp } from '../../src/http/management-app.ts';
import { createPublicServer } from '../../src/http/tls.ts';
import { createAuditWriter, withAuditDefaults, type AuditSink, type AuditWriter } from '../../src/audit/index.ts';
import { instrumentPool } from '../../src/observability/instrument-pool.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics, type Metrics } from '../../src/observability/metrics.ts';
import { createProvider, loadKeyMaterial } from '../../src/oidc/index.ts';
import { registerAccountApi } from '../../src/resources/index.ts';
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
  /** The real audit writer (audit_events); flush() before reading the table. */
  readonly auditWriter: AuditWriter;
  readonly metrics: Metrics;
  readonly health: Health;
  /** The management listener: /metrics, /healthz, /readyz. */
  readonly managementUrl: string;
  /** The limits' Redis connection, with REDIS_URL. */
  readonly redis: Redis | undefined;
  close(): Promise<void>;
}

/**
 * A real Portcullis on a real HTTP port over a fresh database (embedded or Postgres, see
 * test-database.ts). The issuer is the bound address, so openid-client talks to it as to
 * any deployment.
 */
export interface TestServerOptions {
  /** Where audit events go; by default the real writer (audit_events). */
  readonly audit?: AuditSink;
  /** The password hasher; by default argon2id with cheap parameters (see countingHasher). */
  readonly hasher?: PasswordHasher;
}

/** Cheaper argon2 than production's: the flows test the protocol, not the hash cost. */
export const testHasher = (): PasswordHasher => createArgon2Hasher({ memoryCost: 1024, timeCost: 1, parallelism: 1 });

/** The test hasher, counting every verification (a password check that reached argon2). */
export function countingHasher(inner: PasswordHasher = testHasher()): PasswordHasher & { verifications(): number } {
  let count = 0;
  return {
    hash: (password) => inner.hash(password),
    verify(passwordHash, password) {
      count += 1;
      return inner.verify(passwordHash, password);
    },
    needsRehash: (passwordHash) => inner.needsRehash(passwordHash),
    verifications: () => count,
  };
}

export async function startTestServer(env: Record<string, string> = {}, options: TestServerOptions = {}): Promise<TestServer> {
  const database = await createMigratedDatabase();
  // TLS_CERT_FILE + TLS_KEY_FILE: https on the port itself, as main.ts does.
  const tls = env.TLS_CERT_FILE && env.TLS_KEY_FILE ? { certFile: env.TLS_CERT_FILE, keyFile: env.TLS_KEY_FILE } : undefined;
  const server: Server = createPublicServer(tls);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: String(port),
    ISSUER: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
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
  const metrics = createMetrics();
  instrumentPool(database.pool, metrics);
  const auditWriter = createAuditWriter({ prisma: database.prisma, logger, metrics });
  // A test may watch the events itself; by default they go to audit_events, as in production.
  const audit = options.audit ?? auditWriter;
  const sealer = createSealer(TEST_MASTER_SECRET);
  const services = createServices({
    prisma: database.prisma,
    sealer,
    hasher: options.hasher ?? testHasher(),
    audit: withAuditDefaults(audit, { actor: 'system' }),
  });
  await registerAccountApi(services.resources, config.issuer);
  const keys = await loadKeyMaterial(database.prisma, sealer, audit);
  const render = createPageRenderer({ cache: true });
  const { provider, accessTokens } = createProvider({
    config,
    logger,
    prisma: database.prisma,
    sealer,
    keys,
    ...services,
    renderError: createRenderError(render),
    logoutSource: createLogoutSource(render, services.accounts),
    postLogoutSuccessSource: createPostLogoutSuccessSource(render),
    audit,
    metrics,
  });
  // REDIS_URL: shared limits, as main.ts opens them (test/redis runs two servers on one).
  const redis = config.redis ? createLimitRedis(config.redis.url, logger) : undefined;
  if (redis) await connectLimitRedis(redis);
  const app = createApp({ config, logger, provider, cookieKeys: keys.cookieKeys, render, accessTokens, audit, metrics, redis, ...services });
  const handler = app.callback();
  server.on('request', (req, res) => void handler(req, res));
  const health = createHealth({ pool: database.pool, keysLoaded: () => keys.jwks.keys.length > 0 });
  const managementHandler = createManagementApp({ metrics, health }).callback();
  const management = createServer((req, res) => void managementHandler(req, res));
  await new Promise<void>((resolve) => management.listen(0, '127.0.0.1', resolve));

  return {
    issuer: config.issuer,
    config,
    services,
    database,
    logs: () => logText,
    auditWriter,
    metrics,
    health,
    managementUrl: `http://127.0.0.1:${(management.address() as AddressInfo).port}`,
    redis,
    async close() {
      health.beginShutdown();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await auditWriter.close();
      management.closeAllConnections();
      await new Promise<void>((resolve) => management.close(() => resolve()));
      await redis?.quit().catch(() => redis.disconnect());
      await database.destroy();
    },
  };
}
