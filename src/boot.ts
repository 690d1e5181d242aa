import type { PasswordHasher } from './accounts/index.ts';
import type { Config } from './config/index.ts';
import { createSealer, loadOrCreateDevMasterSecret, masterSecretCheck, type Sealer } from './crypto/index.ts';
import {
  createDatabase,
  createRegistryChanges,
  databaseConnectError,
  migrate,
  readDeploymentSetting,
  MASTER_SECRET_CHECK,
  SERVED_ISSUER,
  verifyMasterSecretCheck,
  writeDeploymentSetting,
  type Database,
  type MigrationReport,
  type RegistryChanges,
} from './db/index.ts';
import { StartupError } from './errors.ts';
import { createAuditWriter, withAuditDefaults, type AuditSink, type AuditWriter } from './audit/index.ts';
import { instrumentPool } from './observability/instrument-pool.ts';
import type { Logger, Metrics } from './observability/index.ts';
import { registerAccountApi } from './account-api/index.ts';
import { accountPageRegistration, registerAccountPageClient } from './account-page/index.ts';
import { ADMIN_SCOPES, adminApiIndicator, registerAdminApi } from './admin-api/index.ts';
import { adminConsoleRegistration, registerAdminConsoleClient } from './admin-console/index.ts';
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
  /** The change feed of the registry and the keys (db/registry-changes.ts), when the server caches on Postgres. */
  readonly changes?: RegistryChanges | undefined;
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
  /**
   * `server` (default) records the issuer it serves in the database; `cli` refuses to act
   * on a database served under another issuer (it would write that issuer's URLs into it).
   */
  readonly role?: 'server' | 'cli';
  /**
   * False: refuse to create an embedded database in an empty DATA_DIR (a CLI command
   * other than `migrate`, which would otherwise quietly work on a database no server uses).
   */
  readonly mayCreateDatabase?: boolean;
  /** The services' password hasher (default: argon2id at production cost; tests pass a cheap one). */
  readonly hasher?: PasswordHasher;
  /** The clock second-factor codes are checked against (ms since the epoch); tests pass their own. */
  readonly clock?: () => number;
  /** Receives the audit events instead of the writer (a test watching them); the writer still opens. */
  readonly audit?: AuditSink;
  /**
   * The server: keep clients and resource servers in memory, dropped on every change any
   * instance or the CLI makes (db/registry-changes.ts). Postgres only: the embedded
   * database is one process, read in process, and serves one connection, which a listener
   * would hold.
   */
  readonly cacheRegistry?: boolean;
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
    const { EMBEDDED_POOL_MAX, findRunningEmbeddedDatabase, hasEmbeddedDatabase, startEmbeddedDatabase } = await import('./db/embedded-database.ts');
    const { dataDir } = config.database;
    const running = options.shareRunningServer ? await findRunningEmbeddedDatabase(dataDir) : undefined;
    if (!running && options.mayCreateDatabase === false && !(await hasEmbeddedDatabase(dataDir))) {
      throw new StartupError(
        `DATA_DIR: no database in ${dataDir} and no server running on it; start the server first (npm start), ` +
          'or set DATA_DIR or DATABASE_URL as the server has them (e.g. in .env)',
      );
    }
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
  let registryChanges: RegistryChanges | undefined;
  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
      await registryChanges?.close();
      await audit?.close();
      await database.close().catch(() => {});
      await stopEmbedded?.();
    })());

  try {
    if (config.database.kind === 'postgres') {
      // The first connection, on its own: a wrong URL is one line naming DATABASE_URL.
      const { url } = config.database;
      const client = await database.pool.connect().catch((error: unknown) => {
        throw databaseConnectError(url, error);
      });
      client.release();
    }

    let masterSecret = config.masterSecret;
    let developmentSecret: { file: string; created: boolean } | undefined;
    if (!masterSecret) {
      const generated = await loadOrCreateDevMasterSecret(config.dataDir).catch((error: unknown) => {
        if (error instanceof StartupError) throw error;
        const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
        throw new StartupError(
          `DATA_DIR: cannot keep the development master secret in ${config.dataDir}/master.key (${code}); make the folder writable, set DATA_DIR, or set MASTER_SECRET`,
          { cause: error },
        );
      });
      masterSecret = generated.secret;
      developmentSecret = { file: `${config.dataDir}/master.key`, created: generated.created };
    }
    // A process of another deployment (another secret) must not migrate this database:
    // refused before the migrations when the database already holds the check.
    if (!(await storedCheckMatches(database, masterSecretCheck(masterSecret)))) throw foreignSecret(config);
    const report = await migrate(database.pool);
    if (report.applied.length > 0) logger.info({ applied: report.applied }, 'database migrated');
    const sealer = createSealer(masterSecret);
    // One deployment, one secret: checked before anything is sealed or opened with it.
    const secretMatches = await verifyMasterSecretCheck(database.prisma, masterSecretCheck(masterSecret), (sealed) => {
      try {
        sealer.open(sealed);
        return true;
      } catch {
        return false;
      }
    });
    if (!secretMatches) throw foreignSecret(config);
    if (developmentSecret) {
      // Said once per server start; a CLI command's output is its result.
      const level = options.role === 'cli' ? 'info' : 'warn';
      logger[level](developmentSecret, 'MASTER_SECRET is not set: using a development secret kept in the data folder (refused in production)');
    }
    await checkServedIssuer(database, config.issuer, options.role ?? 'server', logger);
    audit = createAuditWriter({ sql: database.pool, logger, metrics: options.metrics });
    const auditSink = options.audit ?? audit;
    if (options.cacheRegistry && config.database.kind === 'postgres') {
      registryChanges = createRegistryChanges({ url: config.database.url, logger });
      await registryChanges.start();
    }
    const services = createServices({
      prisma: database.prisma,
      sql: database.pool,
      sealer,
      ...(options.hasher && { hasher: options.hasher }),
      audit: withAuditDefaults(auditSink, { actor: options.auditActor ?? 'system', ...(options.auditData && { data: options.auditData }) }),
      registryChanges,
      passwordReset: config.passwordReset,
      signUpLinkTtl: config.registration.linkTtl,
      issuer: config.issuer,
      passkeySignIn: config.passkeySignIn,
      // The admin API's own resource server, while the API is on: never deleted, its scopes
      // always bound to a role. Off, an operator may remove what is left of it.
      ...(config.adminApi && { pinnedResources: [{ indicator: adminApiIndicator(config.issuer), roleBoundScopes: Object.values(ADMIN_SCOPES) }] }),
      // Portcullis' own pages' clients: only their name and require-MFA flag change, on any surface.
      pinnedClients: [accountPageRegistration(config.issuer), adminConsoleRegistration(config.issuer)],
      ...(options.clock && { clock: options.clock }),
    });
    await registerAccountApi(services.resources, config.issuer);
    await registerAccountPageClient(services.clients, config.issuer);
    // Off (ADMIN_API=false): its resource is not offered, so no token for it is issued.
    if (config.adminApi) {
      await registerAdminApi(services.resources, config.issuer);
      await registerAdminConsoleClient(services.clients, config.issuer);
    }
    return { database, sealer, services, migrations: report, audit, auditSink, changes: registryChanges, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * The server records the issuer it serves; the CLI refuses to act on a database served
 * under another one, since what it creates (the account API resource, demo URLs) would
 * carry the wrong issuer. Kept in the database rather than a local file, so the check
 * holds wherever the CLI runs (a laptop, a Job, another container on the same Postgres).
 */
async function checkServedIssuer(database: Database, issuer: string, role: 'server' | 'cli', logger: Logger): Promise<void> {
  if (role === 'server') {
    const previous = await writeDeploymentSetting(database.prisma, SERVED_ISSUER, issuer);
    if (previous !== undefined && previous !== issuer) logger.warn({ previous, issuer }, 'the issuer changed: tokens and clients issued under the previous one no longer verify');
    return;
  }
  const served = await readDeploymentSetting(database.prisma, SERVED_ISSUER);
  if (served !== undefined && served !== issuer) {
    throw new StartupError(
      `ISSUER: this database is served as ${served} but this command has ${issuer}; set ISSUER (or PORT) as the server has them, e.g. in .env`,
    );
  }
}

/** The refusal of a master secret that is not this database's: one line naming the setting. */
function foreignSecret(config: Config): StartupError {
  return new StartupError(
    config.masterSecret
      ? "MASTER_SECRET is not the secret this database was set up with; use that deployment's MASTER_SECRET (every instance and the CLI need the same one)"
      : `MASTER_SECRET is not set and ${config.dataDir}/master.key is not the secret this database was set up with; set MASTER_SECRET (or DATA_DIR) as the server that set it up has it`,
  );
}

/**
 * Before migrating: true unless the database already holds a master secret check that is
 * not `check`. A database without the table (new, or from before the check) passes here;
 * the full check (which claims the value) runs once the migrations made the table.
 */
async function storedCheckMatches(database: Database, check: string): Promise<boolean> {
  const { rows: table } = await database.pool.query<{ found: boolean }>(`SELECT to_regclass('deployment_settings') IS NOT NULL AS found`);
  if (!table[0]?.found) return true;
  const stored = await readDeploymentSetting(database.prisma, MASTER_SECRET_CHECK);
  return stored === undefined || stored === check;
}
