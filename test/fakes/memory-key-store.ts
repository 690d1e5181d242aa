import type { AppliedKeys, KeyStore, StoredCookieKey, StoredSigningKey } from '../../src/oidc/key-store.ts';

// The key store in memory, for unit tests of the key rules (signing-keys.ts, key-rotation.ts).
// It keeps the contract of src/oidc/key-store.ts, which the Prisma store keeps on both
// databases (test/oidc/key-store-contract.integration.test.ts runs one suite on both).

export interface MemoryKeyStore extends KeyStore {
  /** Moves this store's clock (the database's `now()` in the real one). */
  setNow(now: Date): void;
}

export function createMemoryKeyStore(start = new Date()): MemoryKeyStore {
  // Insertion order is creation order; newest first is the reverse.
  let signing: StoredSigningKey[] = [];
  let cookies: StoredCookieKey[] = [];
  let nextCookieId = 1;
  let now = start;
  // change calls run one after another, as the database's lock makes them.
  let queue: Promise<unknown> = Promise.resolve();
  const strip = <T extends object, K extends keyof T>(rows: T[], key: K) => rows.map(({ [key]: _sealed, ...rest }) => rest);

  return {
    setNow(at) {
      now = at;
    },
    present: () => Promise.resolve({ now, signing: strip([...signing].reverse(), 'sealedJwk'), cookies: strip([...cookies].reverse(), 'sealedSecret') }),
    change(plan) {
      const step = queue.then(async (): Promise<AppliedKeys> => {
        const at = now;
        const planned = await plan({ now: at, signing: strip([...signing].reverse(), 'sealedJwk'), cookies: strip([...cookies].reverse(), 'sealedSecret') });
        // A kid is unique, as the table's key makes it.
        const kids = [...signing.map((key) => key.kid), ...planned.signing.map((key) => key.kid)];
        if (new Set(kids).size !== kids.length) throw new Error('duplicate kid');
        // All or nothing: nothing above this line stored anything.
        signing = [...signing, ...planned.signing.map((key) => ({ ...key, createdAt: at, retiredAt: null }))];
        const added = planned.cookies.map((key) => ({ id: nextCookieId++, sealedSecret: key.sealedSecret, createdAt: at, activatesAt: key.activatesAt, retiredAt: null }));
        cookies = [...cookies, ...added];
        const retiredSigning = (planned.retireSigning ?? []).filter((kid) => signing.some((key) => key.kid === kid && !key.retiredAt));
        signing = signing.map((key) => (retiredSigning.includes(key.kid) ? { ...key, retiredAt: at } : key));
        const retiredCookies = (planned.retireCookies ?? []).filter((id) => cookies.some((key) => key.id === id && !key.retiredAt));
        cookies = cookies.map((key) => (retiredCookies.includes(key.id) ? { ...key, retiredAt: at } : key));
        return {
          signing: planned.signing.map(({ kid, alg, activatesAt }) => ({ kid, alg, activatesAt })),
          cookies: added.map(({ id, activatesAt }) => ({ id, activatesAt })),
          retiredSigning,
          retiredCookies,
        };
      });
      queue = step.catch(() => undefined);
      return step;
    },
    signingKeys: () => Promise.resolve([...signing].reverse()),
    cookieKeys: () => Promise.resolve([...cookies].reverse()),
  };
}
