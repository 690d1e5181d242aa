import type { Config } from './config/index.ts';
import { createSealer, loadOrCreateDevMasterSecret, type Sealer } from './crypto/index.ts';
import { createDatabase, migrate, type Database } from './db/index.ts';
import { EMBEDDED_POOL_MAX, startEmbeddedDatabase } from './db/embedded-database.ts';
import type { Logger } from './observability/logger.ts';
import { createServices, type Services } from './services.ts';

// The impure start shared by the two entry points (the server and the CLI): open the
// database (embedded or DATABASE_URL), apply migrations, obtain the master secret.

export interface Runtime {
  readonly database: Database;
  readonly sealer: Sealer;
  readonly services: Services;
  /** Closes the pool, then the embedded server if there is one. Idempotent. */
  close(): Promise<void>;
}

export async function openRuntime(config: Config, logger: Logger): Promise<Runtime> {
  let stopEmbedded: (() => Promise<void>) | undefined;
  let database: Database;
  if (config.database.kind === 'embedded') {
    const embedded = await startEmbeddedDatabase({ dataDir: config.database.dataDir });
    stopEmbedded = () => embedded.stop();
    database = createDatabase({ url: embedded.url, poolMax: EMBEDDED_POOL_MAX });
    logger.info({ dataDir: config.database.dataDir }, 'using the embedded database (set DATABASE_URL for Postgres)');
  } else {
    database = createDatabase({ url: config.database.url, poolMax: config.database.poolMax });
  }

  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
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
    return { database, sealer, services: createServices({ prisma: database.prisma, sealer }), close };
  } catch (error) {
    await close();
    throw error;
  }
}
