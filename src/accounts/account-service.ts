import { ConflictError, NotFoundError } from '../errors.ts';
import { discardAudit, type ActedBy, type AuditEventType, type AuditSink } from '../audit/index.ts';
import { parseAccountCreate, parseAccountUpdate, type AccountCreateInput, type AccountUpdateInput } from './account-input.ts';
import { takesRole, type AccountChanges, type AccountRecord, type AccountStore, type UpdateConditions } from './account-store.ts';
import { createPasswordAuthentication } from './authenticate-password.ts';
import { normalizeEmail } from './normalize-email.ts';
import { checkPassword } from './password-policy.ts';
import type { PasswordHasher } from './password-hasher.ts';

export type AuthenticationResult =
  | { readonly ok: true; readonly account: AccountRecord }
  | {
      readonly ok: false;
      readonly reason: 'invalid_credentials' | 'disabled';
      /**
       * The account the email names, when one does: for the audit trail only (operators
       * see guessing at an account), never for the person at the form, whose answer is
       * the same either way.
       */
      readonly accountId?: string;
    };

/**
 * Ends what a person holds (grants, tokens, browser sessions, remembered consent);
 * provided by oidc/ (the grant service), handed in by the assembly.
 */
export interface AccountTokenRevoker {
  revokeAccount(accountId: string): Promise<{ readonly grants: number; readonly tokens: number }>;
}

// `by` on a change: who made it, when not the audit sink's default (the admin API's caller,
// or the person themself through a reset link).
export interface AccountService {
  /** Parsed with account-input.ts's schema: the CLI, import files and the admin API alike. */
  create(input: AccountCreateInput, by?: ActedBy): Promise<AccountRecord>;
  /**
   * Checks an email and password. Unknown email, wrong password and disabled account
   * cost the same argon2 verification, so timing does not tell them apart.
   */
  authenticate(email: string, password: string): Promise<AuthenticationResult>;
  findById(id: string): Promise<AccountRecord | undefined>;
  /** An id, or an email in any spelling; undefined when no account has it (a malformed email is a ValidationError). */
  findByIdOrEmail(idOrEmail: string): Promise<AccountRecord | undefined>;
  /** As findByIdOrEmail, but a missing account is a NotFoundError. */
  get(idOrEmail: string): Promise<AccountRecord>;
  list(): Promise<AccountRecord[]>;
  /** One page in id order after a cursor, optionally matching part of the email or name (account-store.ts). */
  page(options: { limit: number; after?: string | undefined; search?: string | undefined }): Promise<AccountRecord[]>;
  /** How many accounts there are, disabled ones too. */
  count(): Promise<number>;
  setPassword(idOrEmail: string, password: string, by?: ActedBy): Promise<AccountRecord>;
  /** Ends every grant, token, browser session and remembered consent of the account; it stays enabled. */
  revokeTokens(idOrEmail: string, by?: ActedBy): Promise<{ account: AccountRecord; grants: number; tokens: number }>;
  /** Disabling also ends every grant, token and browser session of the account, at once. */
  setDisabled(idOrEmail: string, disabled: boolean, by?: ActedBy, guard?: ChangeGuard): Promise<AccountRecord>;
  /** Changes profile fields and roles (not the email, not the password), parsed with account-input.ts's schema. */
  update(idOrEmail: string, changes: AccountUpdateInput, by?: ActedBy, guard?: ChangeGuard): Promise<AccountRecord>;
}

/**
 * What the admin API asks of a change besides the input's rules: the version it was made
 * from, and that administration stays possible (role: the admin role).
 */
export interface ChangeGuard extends UpdateConditions {
  /** The account of the person making the change: they may not take `keepRoleHeld` from themself. */
  readonly actorAccountId?: string | undefined;
}

function refuseSelfDemotion(account: AccountRecord, changes: AccountChanges, guard: ChangeGuard | undefined): void {
  const role = guard?.keepRoleHeld;
  if (!role || guard.actorAccountId !== account.id || !account.roles.includes(role) || !takesRole(changes, role)) return;
  throw new ConflictError(changes.disabled ? 'you cannot disable your own account' : `you cannot remove the ${role} role from your own account`);
}

export function createAccountService(deps: {
  store: AccountStore;
  hasher: PasswordHasher;
  audit?: AuditSink | undefined;
  /** Without one (tests of accounts alone), a disabled account's tokens are refused only where the account is looked up. */
  tokens?: AccountTokenRevoker | undefined;
  /**
   * The account's open password reset links (password-reset-store.ts): an operator's new
   * password or a disable spends them, so a link mailed before cannot undo the operator's
   * act (nor work again once the account is enabled).
   */
  resetLinks?: { spendAll(accountId: string): Promise<void> } | undefined;
}): AccountService {
  const { store, hasher } = deps;
  // Every change to an account is recorded here, whichever surface (CLI, API) made it.
  const audit = deps.audit ?? discardAudit;
  const recorded = (type: AuditEventType, account: AccountRecord, data?: Record<string, unknown>, by?: ActedBy) => {
    audit.record({ type, accountId: account.id, ...(data && { data }), ...by });
    return account;
  };
  // async, so that a malformed email is a rejection like every other failure, not a throw.
  async function findByIdOrEmail(idOrEmail: string): Promise<AccountRecord | undefined> {
    return idOrEmail.includes('@') ? await store.findByEmail(normalizeEmail(idOrEmail)) : await store.findById(idOrEmail);
  }

  async function get(idOrEmail: string): Promise<AccountRecord> {
    const account = await findByIdOrEmail(idOrEmail);
    if (!account) throw new NotFoundError(`no account ${idOrEmail}`);
    return account;
  }

  return {
    async create(raw, by) {
      const input = parseAccountCreate(raw);
      const email = normalizeEmail(input.email);
      const { name, roles } = input;
      let passwordHash: string | null = null;
      if (input.password !== undefined) {
        checkPassword(input.password);
        passwordHash = await hasher.hash(input.password);
      }
      const account = await store.create({ email, name, passwordHash, roles, emailVerified: input.emailVerified });
      return recorded('user.created', account, { roles, emailVerified: account.emailVerified, hasPassword: passwordHash !== null }, by);
    },

    authenticate: createPasswordAuthentication({ store, hasher }),

    findById: (id) => store.findById(id),
    findByIdOrEmail,
    get,
    list: () => store.list(),
    page: (options) => store.page(options),
    count: () => store.count(),

    async setPassword(idOrEmail, password, by) {
      checkPassword(password);
      const account = await get(idOrEmail);
      const updated = await store.update(account.id, { passwordHash: await hasher.hash(password) });
      await deps.resetLinks?.spendAll(account.id);
      return recorded('user.password_changed', updated, undefined, by);
    },

    async revokeTokens(idOrEmail, by) {
      const account = await get(idOrEmail);
      const count = (await deps.tokens?.revokeAccount(account.id)) ?? { grants: 0, tokens: 0 };
      recorded('user.tokens_revoked', account, { grants: count.grants, tokens: count.tokens }, by);
      return { account, ...count };
    },

    async setDisabled(idOrEmail, disabled, by, guard) {
      const account = await get(idOrEmail);
      // Also for an account that does not hold the role: disabling yourself ends your own access.
      if (disabled && guard?.actorAccountId === account.id) throw new ConflictError('you cannot disable your own account');
      const updated = await store.update(account.id, { disabled }, guard);
      if (!disabled) return recorded('user.enabled', updated, undefined, by);
      await deps.resetLinks?.spendAll(account.id);
      // Disabled first, so nothing new is issued while the old is revoked.
      const count = (await deps.tokens?.revokeAccount(account.id)) ?? { grants: 0, tokens: 0 };
      return recorded('user.disabled', updated, { grants: count.grants, tokens: count.tokens }, by);
    },

    async update(idOrEmail, raw, by, guard) {
      const changes = parseAccountUpdate(raw);
      const account = await get(idOrEmail);
      const written: AccountChanges = {
        ...(changes.name !== undefined && { name: changes.name }),
        ...(changes.roles !== undefined && { roles: changes.roles }),
        ...(changes.emailVerified !== undefined && { emailVerified: changes.emailVerified }),
      };
      refuseSelfDemotion(account, written, guard);
      const updated = await store.update(account.id, written, guard);
      const fields = Object.keys(changes).filter((key) => changes[key as keyof typeof changes] !== undefined);
      // What changed, never a secret: the roles before and after (who gained admin matters).
      return recorded('user.updated', updated, { fields, ...(changes.roles !== undefined && { roles: updated.roles, previousRoles: account.roles }) }, by);
    },
  };
}
