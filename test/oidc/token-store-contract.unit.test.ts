import { randomUUID } from 'node:crypto';

import { createMemoryTokenStore } from '../fakes/memory-token-store.ts';
import { describeTokenStoreContract } from '../contracts/token-store.ts';

// The in-memory fake keeps the store's contract, so unit tests built on it mean what they say.

describeTokenStoreContract(() => {
  const store = createMemoryTokenStore();
  return {
    store,
    putRefreshToken: (id, row) => Promise.resolve(store.putRefreshToken(id, row)),
    hasRefreshToken: (id) => Promise.resolve(store.hasRefreshToken(id)),
    putGrant: (row) => Promise.resolve(store.putGrant(row)),
    newAccount: () => Promise.resolve(randomUUID()),
    newClient: () => Promise.resolve(`client-${randomUUID()}`),
  };
});
