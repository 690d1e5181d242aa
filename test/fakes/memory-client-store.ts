import { randomUUID } from 'node:crypto';

import { isPossibleClientId } from '../../src/clients/validation.ts';
import type { ClientData, ClientRecord, ClientStore } from '../../src/clients/client-store.ts';
import { ConflictError, NotFoundError } from '../../src/errors.ts';

// The client store in memory, for unit tests of the client service. It keeps the contract
// of src/clients/client-store.ts (test/contracts/client-store.ts), which the Prisma store
// keeps on both databases.

export interface MemoryClientStore extends ClientStore {
  /** The stored client as it is, or undefined: what a test would otherwise read from the table. */
  row(clientId: string): ClientRecord | undefined;
}

const LISTS = ['redirectUris', 'postLogoutRedirectUris', 'corsOrigins', 'grantTypes', 'scopes', 'resources'] as const;

/** A deep copy, as a database would give: no caller shares an array or key set with the store. */
function copy<T extends Partial<ClientData>>(client: T): T {
  const lists = Object.fromEntries(LISTS.filter((list) => client[list] !== undefined).map((list) => [list, [...client[list]!]]));
  return { ...client, ...lists, ...(client.jwks && { jwks: structuredClone(client.jwks) }) };
}

export function createMemoryClientStore(): MemoryClientStore {
  const rows = new Map<string, ClientRecord>();
  /** Strictly increasing, so "oldest first" is never a tie (the table's clock has ms steps). */
  let last = 0;
  const now = () => new Date((last = Math.max(Date.now(), last + 1)));

  return {
    create(client) {
      if (rows.has(client.clientId)) return Promise.reject(new ConflictError(`client ${client.clientId} already exists`));
      const at = now();
      const record: ClientRecord = { ...copy(client), tokenGeneration: client.tokenGeneration ?? randomUUID(), origin: client.origin ?? 'operator', registrationTokenId: client.registrationTokenId ?? null, createdAt: at, updatedAt: at };
      rows.set(record.clientId, record);
      return Promise.resolve(copy(record));
    },
    findById(clientId) {
      const row = isPossibleClientId(clientId) ? rows.get(clientId) : undefined;
      return Promise.resolve(row && copy(row));
    },
    list: () => Promise.resolve([...rows.values()].map(copy)),
    update(clientId, changes) {
      const row = isPossibleClientId(clientId) ? rows.get(clientId) : undefined;
      if (!row) return Promise.reject(new NotFoundError(`client ${clientId} not found`));
      const defined = Object.fromEntries(Object.entries(copy(changes)).filter(([, value]) => value !== undefined));
      const updated: ClientRecord = { ...row, ...defined, updatedAt: now() };
      rows.set(clientId, updated);
      return Promise.resolve(copy(updated));
    },
    delete(clientId) {
      if (!rows.delete(clientId)) return Promise.reject(new NotFoundError(`client ${clientId} not found`));
      return Promise.resolve();
    },
    row: (clientId) => {
      const row = rows.get(clientId);
      return row && copy(row);
    },
  };
}
