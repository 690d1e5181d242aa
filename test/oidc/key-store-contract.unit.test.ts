import { createMemoryKeyStore } from '../fakes/memory-key-store.ts';
import { describeKeyStoreContract } from '../contracts/key-store.ts';

// The in-memory fake keeps the key store's contract, so the key rules' unit tests mean what they say.

describeKeyStoreContract(() => ({ store: createMemoryKeyStore(), clear: () => Promise.resolve() }));
