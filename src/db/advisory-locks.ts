// Every Postgres advisory lock Portcullis takes, in one place so that no two share a
// number by accident. Advisory locks are database-wide: a collision would make migrations
// wait on housekeeping, or key creation on a migration.

/** Applying migrations; Prisma's own number, so `prisma migrate deploy` and we exclude each other. */
export const MIGRATION_LOCK = 72707369;

/** Creating the signing keys at first start, once when several instances start together. */
export const KEY_CREATION_LOCK = 72707370;

/** One housekeeping round at a time across every instance on the database. */
export const HOUSEKEEPING_LOCK = 72707371;

/**
 * Making an account through a sign-up link, per address: the two-key form (this number and
 * the address's hashtext), a key space apart from the one-key locks above.
 */
export const SIGN_UP_LOCK = 72707372;
