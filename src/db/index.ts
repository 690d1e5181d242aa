export { createDatabase, type Database, type PrismaClient } from './create-database.ts';
export type { Sql } from './sql.ts';
export { migrate, pendingMigrations, readMigrations, MigrationError, type Migration, type MigrationReport } from './migrate.ts';
export { isForeignKeyViolation, isRecordNotFound, translatePrismaError, withTranslatedErrors, DatabaseUnavailableError } from './translate-prisma-error.ts';
export { KEY_CREATION_LOCK, HOUSEKEEPING_LOCK, SIGN_UP_LOCK } from './advisory-locks.ts';
export { Prisma } from './generated/client.ts';
export { createHousekeeping, type Housekeeping } from './housekeeping.ts';
export { createRegistryChanges, REGISTRY_CHANNEL, type RegistryChanges } from './registry-changes.ts';
export { databaseConnectError, describeDatabaseUrl } from './connect-error.ts';
export {
  claimDeploymentSetting,
  MASTER_SECRET_CHECK,
  readDeploymentSetting,
  SERVED_ISSUER,
  verifyMasterSecretCheck,
  writeDeploymentSetting,
} from './deployment-settings.ts';
export { createThrottleReleaseStore, type ThrottleRelease, type ThrottleReleaseStore } from './throttle-releases.ts';
export { isDatabaseUnavailable } from './database-unavailable.ts';
export { createDatabaseOutage, DATABASE_RETRY_AFTER_SECONDS, reasonOf as databaseFailureReason, type DatabaseOutage } from './database-outage.ts';
