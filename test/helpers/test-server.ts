import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';

import type { Redis } from 'ioredis';
import type { z } from 'zod';

import { createArgon2Hasher, type PasswordHasher } from '../../src/accounts/index.ts';
import { openRuntime } from '../../src/boot.ts';
import { applyPlan, planDeclaration } from '../../src/cli/apply-declaration.ts';
import { importFileSchema } from '../../src/cli/read-import-file.ts';
import { loadConfig, type Config } from '../../src/config/index.ts';
import type { Sealer } from '../../src/crypto/index.ts';
import type { Database } from '../../src/db/index.ts';
import type { KeyMaterial } from '../../src/oidc/index.ts';
import { createPublicServer, type Health } from '../../src/http/index.ts';
import type { AuditSink, AuditWriter } from '../../src/audit/index.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics, type Metrics } from '../../src/observability/metrics.ts';
import { readBuildInfo } from '../../src/observability/build-info.ts';
import type { Mailer } from '../../src/mail/index.ts';
import type { ResetRequestQueue } from '../../src/interactions/index.ts';
import { buildServer } from '../../src/server.ts';
import type { Services } from '../../src/services.ts';
import { createTestDatabaseWithSchema, type TestDatabase } from './test-database.ts';

export const TEST_MASTER_SECRET = 'test-master-secret-that-is-long-enough-0123456789';

export interface TestServer {
  readonly issuer: string;
  readonly config: Config;
  readonly services: Services;
  readonly database: Database & { readonly testDatabase: TestDatabase };
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
  /** Outgoing mail's queue: idle() once everything handed to it was sent (or given up). */
  readonly mailer: Mailer;
  /** Password reset requests' background work (idle() before looking for their mail or audit events). */
  readonly resetRequests: ResetRequestQueue;
  /** What `declare` seeded: the secrets made for confidential clients, the accounts' ids. */
  readonly declared: Declared;
  /** Seals and opens the deployment's keys and secrets (MASTER_SECRET). */
  readonly sealer: Sealer;
  /** The keys the engine uses now, and a re-read of them (server.ts). */
  keys(): KeyMaterial;
  refreshKeys(): Promise<void>;
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
  /**
   * Resource servers, clients and users to seed before the test runs, in the shape of a
   * `portcullis import` file (a function when it needs the issuer, known once the port is).
   */
  readonly declare?: TestDeclaration | ((issuer: string) => TestDeclaration);
  /**
   * Another instance of the same deployment: this server opens `first`'s database (same
   * master secret, own issuer address and caches) and leaves it for `first` to drop.
   */
  readonly sameDatabaseAs?: TestServer;
  /** Start the background work as main.ts does once listening: housekeeping and the key watcher (key rotation). */
  readonly background?: boolean;
  /** How the server reaches its database, from the database's own URL (e.g. through a fault-injecting proxy). */
  readonly databaseUrl?: (url: string) => string;
  /** The clock second-factor codes are checked against (ms since the epoch), for drift tests to the step. */
  readonly clock?: () => number;
  /** The issuer's host name (the server still listens on 127.0.0.1): `localhost` where passkeys must work (WebAuthn takes no IP address as RP ID). */
  readonly issuerHost?: string;
}

type ImportFileInput = z.input<typeof importFileSchema>;

/**
 * An import file, except that a user carries the password itself: a test has no secret to
 * keep out of a file, so it need not name an environment variable.
 */
export interface TestDeclaration {
  readonly resources?: ImportFileInput['resources'];
  readonly clients?: ImportFileInput['clients'];
  readonly users?: readonly (Omit<NonNullable<ImportFileInput['users']>[number], 'passwordEnv'> & { readonly password?: string })[];
}

export interface Declared {
  /** The secret made for a declared confidential client; throws for any other id. */
  clientSecret(clientId: string): string;
  /** The id of a declared user's account; throws for any other email. */
  accountId(email: string): string;
}

/**
 * Seeds a declaration through the CLI's import path (parse, plan, apply), so the fixtures of
 * a test are checked by the same rules as an operator's file and the test states only data.
 */
export async function seed(services: Services, declaration: TestDeclaration): Promise<Declared> {
  const env: Record<string, string> = {};
  const users = (declaration.users ?? []).map(({ password, ...user }, index) => {
    if (password === undefined) return user;
    const name = `DECLARED_PASSWORD_${index}`;
    env[name] = password;
    return { ...user, passwordEnv: name };
  });
  const file = importFileSchema.parse({ resources: declaration.resources, clients: declaration.clients, users });
  const applied = await applyPlan(await planDeclaration({ services, env }, file));
  const secrets = new Map(applied.flatMap((item) => (item.clientSecret ? [[item.id, item.clientSecret] as const] : [])));
  const accountIds = new Map<string, string>();
  for (const user of file.users) {
    const account = await services.accounts.findByIdOrEmail(user.email);
    if (account) accountIds.set(user.email, account.id);
  }
  const lookup = (map: Map<string, string>, what: string) => (key: string) => {
    const value = map.get(key);
    if (value === undefined) throw new Error(`nothing declared gives ${what} for ${key}`);
    return value;
  };
  return { clientSecret: lookup(secrets, 'a client secret'), accountId: lookup(accountIds, 'an account id') };
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
  const shared = options.sameDatabaseAs?.database.testDatabase;
  const testDatabase: TestDatabase = shared ? { ...shared, destroy: () => Promise.resolve() } : await createTestDatabaseWithSchema();
  // TLS_CERT_FILE + TLS_KEY_FILE: https on the port itself, as main.ts does.
  const tls = env.TLS_CERT_FILE && env.TLS_KEY_FILE ? { certFile: env.TLS_CERT_FILE, keyFile: env.TLS_KEY_FILE } : undefined;
  const server: Server = createPublicServer(tls);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: String(port),
    ISSUER: `${tls ? 'https' : 'http'}://${options.issuerHost ?? '127.0.0.1'}:${port}`,
    DATABASE_URL: options.databaseUrl?.(testDatabase.url) ?? testDatabase.url,
    DATABASE_POOL_MAX: String(testDatabase.poolMax),
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
  // PORTCULLIS_COMMIT as main.ts reads it (from the process environment), here from the test's own.
  const metrics = createMetrics({ buildInfo: readBuildInfo({ PORTCULLIS_COMMIT: env.PORTCULLIS_COMMIT }) });
  // A test may watch the audit events itself; by default they go to audit_events, as in production.
  // The registry cache as in production: on Postgres (the embedded database serves one connection).
  const runtime = await openRuntime(config, logger, {
    metrics,
    hasher: options.hasher ?? testHasher(),
    cacheRegistry: testDatabase.engine === 'postgres',
    ...(options.clock && { clock: options.clock }),
    ...(options.audit && { audit: options.audit }),
  });
  const built = await buildServer(config, runtime, { logger, metrics });
  const handler = built.app.callback();
  server.on('request', (req, res) => void handler(req, res));
  const managementHandler = built.managementApp.callback();
  const management = createServer((req, res) => void managementHandler(req, res));
  await new Promise<void>((resolve) => management.listen(0, '127.0.0.1', resolve));
  if (options.background) built.startBackground();
  async function close(): Promise<void> {
    built.health.beginShutdown();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    management.closeAllConnections();
    await new Promise<void>((resolve) => management.close(() => resolve()));
    await built.close();
    await runtime.close();
    await testDatabase.destroy();
  }
  const declaration = typeof options.declare === 'function' ? options.declare(config.issuer) : options.declare;
  let declared: Declared;
  try {
    declared = await seed(runtime.services, declaration ?? {});
  } catch (error) {
    // A declaration the import path refuses fails the test's setup, not the run's cleanup.
    await close();
    throw error;
  }

  return {
    issuer: config.issuer,
    config,
    services: runtime.services,
    database: { ...runtime.database, testDatabase },
    logs: () => logText,
    auditWriter: runtime.audit,
    metrics,
    health: built.health,
    managementUrl: `http://127.0.0.1:${(management.address() as AddressInfo).port}`,
    redis: built.redis,
    mailer: built.mailer,
    resetRequests: built.resetRequests,
    declared,
    sealer: runtime.sealer,
    keys: () => built.keys(),
    refreshKeys: () => built.refreshKeys(),
    close,
  };
}
