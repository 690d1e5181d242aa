import type { AccountRecord } from './account-store.ts';

/**
 * What may be shown of an account, wherever it is shown (`portcullis users show --json`, the
 * admin API): everything but the password hash, of which only its existence.
 */
export function accountView(account: AccountRecord) {
  return {
    id: account.id,
    email: account.email,
    emailVerified: account.emailVerified,
    name: account.name,
    roles: [...account.roles],
    disabled: account.disabled,
    hasPassword: account.passwordHash !== null,
    createdAt: account.createdAt.toISOString(),
    updatedAt: account.updatedAt.toISOString(),
  };
}
