import type { PasswordHasher } from './accounts/index.ts';
import type { Config } from './config/index.ts';
import { createSealer, loadOrCreateDevMasterSecret, type Sealer } from './crypto/index.ts';
import { createDatabase, migrate, type Database, type MigrationReport } from './db/index.ts';
import { createAuditWriter, withAuditDefaults, type AuditSink, type AuditWriter } from './audit/index.ts';
import { instrumentPool } from './observability/instrument-pool.ts';
import type { Logger, Metrics } from './observability/index.ts';
import { registerAccountApi } from './account-api/index.ts';
import { createServices, type Services } from './services.ts';

// The impure start shared by the two entry points (the server and the CLI): open the
// database (embedded or DATABASE_URL), apply migrations, obtain the master secret.

export interface Runtime {
  readonly database: Database;
  readonly sealer: Sealer;
  readonly services: Services;
  /** What this start applied to the database. */
  readonly migrations: MigrationReport;
  /** The audit trail's buffered writer; close() flushes it before the pool closes. */
  readonly audit: AuditWriter;
  /** Where this process's audit events go: the writer, or the `audit` option's sink. */
  readonly auditSink: AuditSink;
  /** Flushes the audit trail, closes the pool, then the embedded server if there is one. Idempotent. */
  close(): Promise<void>;
}

export interface RuntimeOptions {
  /** Query latency, pool usage and audit drops are reported here (the server passes its registry). */
  readonly metrics?: Metrics;
  /** Who the services' own events (client.*, user.*) name as actor: `cli` or `system` (default). */
  readonly auditActor?: string;
  /** Facts every event of the services carries in `data` (the CLI: the operator's OS user and host). */
  readonly auditData?: Readonly<Record<string, unknown>>;
  /** CLI: use the embedded database of a server already running on the data folder. */
  readonly shareRunningServer?: boolean;
  /** The services' password hasher (default: argon2id at production cost; tests pass a cheap one). */
  readonly hasher?: PasswordHasher;
  /** Receives the audit events instead of the writer (a test watching them); the writer still opens. */
  readonly audit?: AuditSink;
}

/**
 * The embedded database serves one connection; an idle one is handed back within a
 * second so that a CLI command can get in beside a running server, and vice versa.
 */
const EMBEDDED_IDLE_MS = 1_000;

export async function openRuntime(config: Config, logger: Logger, options: RuntimeOptions = {}): Promise<Runtime> {
  let stopEmbedded: (() => Promise<void>) | undefined;
  let database: Database;
  if (config.database.kind === 'embedded') {
    // Loaded only here: a Postgres deployment (server or CLI) never loads PGlite.
    const { EMBEDDED_POOL_MAX, findRunningEmbeddedDatabase, startEmbeddedDatabase } = await import('./db/embedded-database.ts');
    const running = options.shareRunningServer ? await findRunningEmbeddedDatabase(config.database.dataDir) : undefined;
    if (running) {
      database = createDatabase({ url: running, poolMax: EMBEDDED_POOL_MAX, idleTimeoutMillis: EMBEDDED_IDLE_MS });
    } else {
      const embedded = await startEmbeddedDatabase({ dataDir: config.database.dataDir });
      stopEmbedded = () => embedded.stop();
      database = createDatabase({ url: embedded.url, poolMax: EMBEDDED_POOL_MAX, idleTimeoutMillis: EMBEDDED_IDLE_MS });
      logger.info({ dataDir: config.database.dataDir }, 'using the embedded database (set DATABASE_URL for Postgres)');
    }
  } else {
    database = createDatabase({ url: config.database.url, poolMax: config.database.poolMax });
  }
  if (options.metrics) instrumentPool(database.pool, options.metrics);

  let audit: AuditWriter | undefined;
  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
      await audit?.close();
      await database.close().catch(() => {});
      await stopEmbedded?.();
    })());

  try {
    const report = await migrate(database.pool);
    if (report.applied.length > 0) logger.info({ applied: report.applied }, 'database migrated');

    let masterSecret = config.masterSecret;
    if (!masterSecret) {
      const generated = await loadOrCreateDevMasterSecret(config.dataDir);
      masterSecret = generated.secret;
      logger.warn(
        { file: `${config.dataDir}/master.key`, created: generated.created },
        'MASTER_SECRET is not set: using a development secret kept in the data folder (refused in production)',
      );
    }
    const sealer = createSealer(masterSecret);
    audit = createAuditWriter({ prisma: database.prisma, logger, metrics: options.metrics });
    const auditSink = options.audit ?? audit;
    const services = createServices({
      prisma: database.prisma,
      sealer,
      ...(options.hasher && { hasher: options.hasher }),
      audit: withAuditDefaults(auditSink, { actor: options.auditActor ?? 'system', ...(options.auditData && { data: options.auditData }) }),
    });
    await registerAccountApi(services.resources, config.issuer);
    return { database, sealer, services, migrations: report, audit, auditSink, close };
  } catch (error) {
    await close();
    throw error;
  }
}
