import { describe } from 'node:test';

import { describeResourceStore } from '../contracts/resource-store.ts';
import { createMemoryResourceStore } from '../fakes/memory-resource-store.ts';

describe('the in-memory resource server store (the fake the unit tests use)', () => {
  describeResourceStore(() => Promise.resolve(createMemoryResourceStore()));
});
