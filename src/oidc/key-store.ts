// The rows behind the signing and cookie keys: sealed at rest, one set shared by every
// instance on one database. What keys must exist is decided by signing-keys.ts; a store
// only keeps them and makes "create what is missing" one step across instances.
// Implementations: store/prisma-key-store.ts (both databases) and an in-memory fake for
// unit tests (test/fakes/). test/oidc/key-store-contract.integration.test.ts runs one suite on all.

export type KeyStatus = 'active' | 'retired';

export interface StoredSigningKey {
  readonly kid: string;
  readonly alg: string;
  readonly status: KeyStatus;
  /** The private JWK, sealed with the master secret. */
  readonly sealedJwk: string;
}

export interface StoredCookieKey {
  readonly id: number;
  /** The cookie-signing secret, sealed with the master secret. */
  readonly sealedSecret: string;
}

/** What exists when keys are about to be created. */
export interface PresentKeys {
  /** The algorithms of the active signing keys, one entry per key. */
  readonly activeSigningAlgs: readonly string[];
  readonly cookieKeys: number;
}

/** Keys to add, already sealed. */
export interface NewKeys {
  readonly signing: readonly { readonly kid: string; readonly alg: string; readonly sealedJwk: string }[];
  readonly sealedCookieSecrets: readonly string[];
}

/** What an addMissing call stored: signing keys by kid and alg, cookie keys by id. */
export interface AddedKeys {
  readonly signing: readonly { readonly kid: string; readonly alg: string }[];
  readonly cookieKeyIds: readonly number[];
}

export interface KeyStore {
  /**
   * Asks `plan` what to add given what is present, and stores it, as one step for every
   * instance on the database: concurrent calls (from any instance) run one after another,
   * so a later one plans on what an earlier one stored. Either all of a plan is stored or
   * none of it.
   */
  addMissing(plan: (present: PresentKeys) => Promise<NewKeys>): Promise<AddedKeys>;
  /** Every signing key: active before retired, newest first within each. */
  signingKeys(): Promise<StoredSigningKey[]>;
  /** Every cookie key, newest first. */
  cookieKeys(): Promise<StoredCookieKey[]>;
}
