import type { AddedKeys, KeyStatus, KeyStore, StoredCookieKey, StoredSigningKey } from '../../src/oidc/key-store.ts';

// The key store in memory, for unit tests of the key rules (signing-keys.ts). It keeps the
// contract of src/oidc/key-store.ts, which the Prisma store keeps on both databases
// (test/oidc/key-store-contract.integration.test.ts runs one suite on both).

export interface MemoryKeyStore extends KeyStore {
  /** Adds a signing key as an operator's earlier rotation would have left it. */
  putSigningKey(key: StoredSigningKey): void;
  setStatus(kid: string, status: KeyStatus): void;
}

export function createMemoryKeyStore(): MemoryKeyStore {
  // Insertion order is creation order; newest first is the reverse.
  const signing: StoredSigningKey[] = [];
  const cookies: StoredCookieKey[] = [];
  let nextCookieId = 1;
  // addMissing calls run one after another, as the database's lock makes them.
  let queue: Promise<unknown> = Promise.resolve();

  return {
    putSigningKey: (key) => void signing.push(key),
    setStatus(kid, status) {
      const index = signing.findIndex((key) => key.kid === kid);
      if (index >= 0) signing[index] = { ...signing[index]!, status };
    },

    addMissing(plan) {
      const step = queue.then(async (): Promise<AddedKeys> => {
        const planned = await plan({
          activeSigningAlgs: signing.filter((key) => key.status === 'active').map((key) => key.alg),
          cookieKeys: cookies.length,
        });
        // A kid is unique, as the table's key makes it.
        const kids = [...signing.map((key) => key.kid), ...planned.signing.map((key) => key.kid)];
        if (new Set(kids).size !== kids.length) throw new Error('duplicate kid');
        // All or nothing: nothing above this line stored anything.
        for (const key of planned.signing) signing.push({ kid: key.kid, alg: key.alg, status: 'active', sealedJwk: key.sealedJwk });
        const cookieKeyIds = planned.sealedCookieSecrets.map((sealedSecret) => {
          const id = nextCookieId++;
          cookies.push({ id, sealedSecret });
          return id;
        });
        return { signing: planned.signing.map(({ kid, alg }) => ({ kid, alg })), cookieKeyIds };
      });
      queue = step.catch(() => undefined);
      return step;
    },
    signingKeys: () =>
      Promise.resolve([...signing.filter((key) => key.status === 'active').reverse(), ...signing.filter((key) => key.status === 'retired').reverse()]),
    cookieKeys: () => Promise.resolve([...cookies].reverse()),
  };
}
