import { describe } from 'node:test';

import { describeClientStore } from '../contracts/client-store.ts';
import { createMemoryClientStore } from '../fakes/memory-client-store.ts';

describe('the in-memory client store (the fake the unit tests use)', () => {
  describeClientStore(() => Promise.resolve(createMemoryClientStore()));
});
