import { randomUUID } from 'node:crypto';

import type { AccountRecord, AccountStore } from '../../src/accounts/account-store.ts';
import { ConflictError, NotFoundError } from '../../src/errors.ts';

// The account store in memory, for unit tests of the account service. It keeps the
// contract of src/accounts/account-store.ts (test/contracts/account-store.ts), which the
// Prisma store keeps on both databases.

export interface MemoryAccountStore extends AccountStore {
  /** Every stored account, oldest first: what a test would otherwise read from the table. */
  all(): AccountRecord[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function createMemoryAccountStore(): MemoryAccountStore {
  const rows = new Map<string, AccountRecord>();
  // Copies in and out, as a database would: no caller shares an array with the store.
  const copy = (record: AccountRecord): AccountRecord => ({ ...record, roles: [...record.roles] });
  const byEmail = (email: string) => [...rows.values()].find((row) => row.email === email);
  /** Strictly increasing, so "oldest first" is never a tie (the table's clock has ms steps). */
  let last = 0;
  const now = () => new Date((last = Math.max(Date.now(), last + 1)));

  return {
    create(account) {
      if (byEmail(account.email)) return Promise.reject(new ConflictError('account already exists'));
      const at = now();
      const record: AccountRecord = {
        id: randomUUID(),
        email: account.email,
        name: account.name,
        passwordHash: account.passwordHash,
        emailVerified: account.emailVerified ?? false,
        disabled: false,
        roles: [...(account.roles ?? [])],
        createdAt: at,
        updatedAt: at,
      };
      rows.set(record.id, record);
      return Promise.resolve(copy(record));
    },
    findById(id) {
      const row = UUID.test(id) ? rows.get(id.toLowerCase()) : undefined;
      return Promise.resolve(row && copy(row));
    },
    findByEmail(email) {
      const row = byEmail(email);
      return Promise.resolve(row && copy(row));
    },
    list(options = {}) {
      return Promise.resolve([...rows.values()].slice(0, options.limit ?? 1000).map(copy));
    },
    count() {
      return Promise.resolve(rows.size);
    },
    page({ limit, after, search }) {
      const term = search?.toLowerCase();
      const found = [...rows.values()]
        .filter((row) => after === undefined || row.id > after)
        .filter((row) => term === undefined || row.email.toLowerCase().includes(term) || row.name.toLowerCase().includes(term))
        .sort((a, b) => (a.id < b.id ? -1 : 1));
      return Promise.resolve(found.slice(0, limit).map(copy));
    },
    update(id, changes) {
      const row = UUID.test(id) ? rows.get(id.toLowerCase()) : undefined;
      if (!row) return Promise.reject(new NotFoundError('account not found'));
      const defined = Object.fromEntries(Object.entries(changes).filter(([, value]) => value !== undefined));
      const updated: AccountRecord = { ...row, ...defined, roles: [...(changes.roles ?? row.roles)], updatedAt: now() };
      rows.set(row.id, updated);
      return Promise.resolve(copy(updated));
    },
    all: () => [...rows.values()].map(copy),
  };
}
