import { describe } from 'node:test';

import { describeAccountStore } from '../contracts/account-store.ts';
import { createMemoryAccountStore } from '../fakes/memory-account-store.ts';

describe('the in-memory account store (the fake the unit tests use)', () => {
  describeAccountStore(() => Promise.resolve(createMemoryAccountStore()));
});
