import { isUuid } from '../clients/index.ts';
import type { PrismaClient, Sql } from '../db/index.ts';
import { isRecordNotFound, withTranslatedErrors } from '../db/index.ts';
import { ConflictError, NotFoundError, PreconditionFailedError } from '../errors.ts';

export interface AccountRecord {
  readonly id: string;
  readonly email: string;
  readonly emailVerified: boolean;
  readonly name: string;
  readonly passwordHash: string | null;
  readonly disabled: boolean;
  readonly roles: readonly string[];
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface NewAccount {
  email: string;
  name: string;
  passwordHash: string | null;
  emailVerified?: boolean;
  roles?: string[];
}

export interface AccountChanges {
  name?: string;
  passwordHash?: string | null;
  disabled?: boolean;
  emailVerified?: boolean;
  roles?: string[];
}

/** Persistence of accounts. Emails arrive already normalised (see normalize-email.ts). */
export interface AccountStore {
  create(account: NewAccount): Promise<AccountRecord>;
  findById(id: string): Promise<AccountRecord | undefined>;
  findByEmail(email: string): Promise<AccountRecord | undefined>;
  list(options?: { limit?: number }): Promise<AccountRecord[]>;
  /**
   * One page in id order, after the cursor (the last id of the page before): ids never
   * change, so a page is never skipped or repeated as accounts come and go. `search` matches
   * part of the email or name, in any case.
   */
  page(options: { limit: number; after?: string | undefined; search?: string | undefined }): Promise<AccountRecord[]>;
  /** How many accounts there are, disabled ones too (the admin console's overview). */
  count(): Promise<number>;
  update(id: string, changes: AccountChanges, conditions?: UpdateConditions): Promise<AccountRecord>;
}

/** What must hold for an update to be written, checked with the write itself. */
export interface UpdateConditions {
  /** Only onto this version (a PreconditionFailedError otherwise): optimistic concurrency. */
  readonly ifUpdatedAt?: Date | undefined;
  /**
   * Never leave no enabled account holding this role (a ConflictError otherwise): the
   * holders are locked while the change is checked and written, so two concurrent changes
   * each removing a different last-but-one holder cannot both pass.
   */
  readonly keepRoleHeld?: string | undefined;
}

/** Whether a change takes `role` away from an account holding it, by disabling it or by its roles. */
export function takesRole(changes: AccountChanges, role: string): boolean {
  return changes.disabled === true || (changes.roles !== undefined && !changes.roles.includes(role));
}

/**
 * The reads every token request and login makes, in plain SQL on the pool (db/sql.ts says
 * why); writes and listings go through Prisma.
 */
const ACCOUNT_COLUMNS: Readonly<Record<keyof AccountRecord, string>> = {
  id: 'id',
  email: 'email',
  emailVerified: 'email_verified',
  name: 'name',
  passwordHash: 'password_hash',
  disabled: 'disabled',
  roles: 'roles',
  createdAt: 'created_at',
  updatedAt: 'updated_at',
};
const FIELDS = Object.keys(ACCOUNT_COLUMNS) as (keyof AccountRecord)[];

/**
 * An AccountRecord's columns of `accounts` under the alias `table`, each named `prefix` and
 * its field: for a statement that reads the account along with something else (a refresh
 * token reads its person, sql-rotation-store.ts). `accountFromRow` takes them back out.
 */
export function accountColumns(table: string, prefix = ''): string {
  return FIELDS.map((field) => `${table}.${ACCOUNT_COLUMNS[field]} AS "${prefix}${field}"`).join(', ');
}

/** The account selected by `accountColumns(table, prefix)`; undefined when the join found none. */
export function accountFromRow(row: object, prefix: string): AccountRecord | undefined {
  const columns = row as Readonly<Record<string, unknown>>;
  if (columns[`${prefix}id`] == null) return undefined;
  return Object.fromEntries(FIELDS.map((field) => [field, columns[`${prefix}${field}`]])) as unknown as AccountRecord;
}

/**
 * A text that may hold an account id, as a uuid or NULL: ids in token payloads are text, and
 * Postgres refuses to cast anything that is not a uuid (an error, not "no such account").
 */
export function accountIdAsUuid(text: string): string {
  return `(CASE WHEN ${text} ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN (${text})::uuid END)`;
}

const SELECT_ACCOUNT = `SELECT ${accountColumns('accounts')} FROM accounts`;

export function createAccountStore(prisma: PrismaClient, sql: Sql): AccountStore {
  const readOne = (where: 'id' | 'email', value: string) =>
    withTranslatedErrors('account', async () => {
      const { rows } = await sql.query<AccountRecord>(`${SELECT_ACCOUNT} WHERE ${where} = $1`, [value]);
      return rows[0];
    });
  return {
    create: (account) =>
      withTranslatedErrors('account', () =>
        prisma.account.create({
          data: {
            email: account.email,
            name: account.name,
            passwordHash: account.passwordHash,
            emailVerified: account.emailVerified ?? false,
            roles: account.roles ?? [],
          },
        }),
      ),
    async findById(id) {
      // A subject that is not a UUID cannot exist; Postgres would reject the cast.
      if (!isUuid(id)) return undefined;
      return readOne('id', id);
    },
    findByEmail: (email) => readOne('email', email),
    list: (options = {}) =>
      withTranslatedErrors('account', () =>
        prisma.account.findMany({ orderBy: { createdAt: 'asc' }, take: options.limit ?? 1000 }),
      ),
    count: () => withTranslatedErrors('account', () => prisma.account.count()),
    page: ({ limit, after, search }) =>
      withTranslatedErrors('account', () =>
        prisma.account.findMany({
          where: {
            ...(after !== undefined && { id: { gt: after } }),
            ...(search && { OR: [{ email: { contains: search, mode: 'insensitive' } }, { name: { contains: search, mode: 'insensitive' } }] }),
          },
          orderBy: { id: 'asc' },
          take: limit,
        }),
      ),
    async update(id, changes, conditions = {}) {
      // As in findById: no account has such an id, and Postgres would refuse the cast (a 500).
      if (!isUuid(id)) throw new NotFoundError('account not found');
      const { ifUpdatedAt, keepRoleHeld: role } = conditions;
      const write = (db: Pick<PrismaClient, 'account'>) =>
        db.account.update({ where: { id, ...(ifUpdatedAt && { updatedAt: ifUpdatedAt }) }, data: changes }).catch((error: unknown) => {
          // No row of that version: changed (or deleted) since it was read.
          if (ifUpdatedAt && isRecordNotFound(error)) throw new PreconditionFailedError();
          throw error;
        });
      if (!role || !takesRole(changes, role)) return withTranslatedErrors('account', () => write(prisma));
      return withTranslatedErrors('account', () =>
        prisma.$transaction(async (tx) => {
          // Every enabled holder, locked in one order: a concurrent change to any of them
          // waits here, then sees this one's outcome (FOR UPDATE re-checks the condition).
          const holders = await tx.$queryRaw<{ id: string }[]>`SELECT id FROM accounts WHERE disabled = false AND ${role} = ANY(roles) ORDER BY id FOR UPDATE`;
          if (holders.some((holder) => holder.id === id) && holders.length <= 1) {
            throw new ConflictError(`this is the last enabled account with the ${role} role: give the role to another account first`);
          }
          return write(tx);
        }),
      );
    },
  };
}
