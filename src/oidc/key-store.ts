// The rows behind the signing and cookie keys: sealed at rest, one set shared by every
// instance on one database. What keys must exist, and when each signs or may go, is decided
// by signing-keys.ts and key-lifecycle.ts; a store only keeps them and makes "look, then
// change" one step across instances (start, rotation, retirement, the schedule).
// Implementations: store/prisma-key-store.ts (both databases) and an in-memory fake for
// unit tests (test/fakes/). test/oidc/key-store-contract.integration.test.ts runs one suite on all.

export interface StoredSigningKey {
  readonly kid: string;
  readonly alg: string;
  /** The private JWK, sealed with the master secret. */
  readonly sealedJwk: string;
  readonly createdAt: Date;
  /** Published from creation; signs from here on (announced rotation). */
  readonly activatesAt: Date;
  /** Set once retired: no longer published. */
  readonly retiredAt: Date | null;
}

export interface StoredCookieKey {
  readonly id: number;
  /** The cookie-signing secret, sealed with the master secret. */
  readonly sealedSecret: string;
  readonly createdAt: Date;
  /** Verifies from creation; signs from here on. */
  readonly activatesAt: Date;
  /** Set once retired: no longer verifies. */
  readonly retiredAt: Date | null;
}

/** What exists when a change is planned (nothing sealed), and the database's clock then. */
export interface PresentKeys {
  readonly now: Date;
  readonly signing: readonly Omit<StoredSigningKey, 'sealedJwk'>[];
  readonly cookies: readonly Omit<StoredCookieKey, 'sealedSecret'>[];
}

/** What a plan asks for: keys to add (already sealed) and keys to retire. */
export interface KeyChanges {
  readonly signing: readonly { readonly kid: string; readonly alg: string; readonly sealedJwk: string; readonly activatesAt: Date }[];
  readonly cookies: readonly { readonly sealedSecret: string; readonly activatesAt: Date }[];
  readonly retireSigning?: readonly string[];
  readonly retireCookies?: readonly number[];
}

/** What a change stored: new signing keys by kid and alg, new cookie keys by id, and what it retired. */
export interface AppliedKeys {
  readonly signing: readonly { readonly kid: string; readonly alg: string; readonly activatesAt: Date }[];
  readonly cookies: readonly { readonly id: number; readonly activatesAt: Date }[];
  readonly retiredSigning: readonly string[];
  readonly retiredCookies: readonly number[];
}

export const NO_KEY_CHANGES: KeyChanges = Object.freeze({ signing: [], cookies: [] });

export interface KeyStore {
  /**
   * Asks `plan` what to change given what is present, and stores it, as one step for every
   * instance on the database: concurrent calls (from any instance or the CLI) run one after
   * another, so a later one plans on what an earlier one stored. Either all of a plan is
   * stored or none of it. Retiring a key already retired changes nothing and is not reported.
   */
  change(plan: (present: PresentKeys) => Promise<KeyChanges>): Promise<AppliedKeys>;
  /** What `change` would show a plan, read without its lock: for listing, which must never hold up starts and rotations. */
  present(): Promise<PresentKeys>;
  /** Every signing key, retired ones included, newest first. */
  signingKeys(): Promise<StoredSigningKey[]>;
  /** Every cookie key, retired ones included, newest first. */
  cookieKeys(): Promise<StoredCookieKey[]>;
}
