import type { AdapterPayload } from 'oidc-provider';

import type { AccountRecord } from '../accounts/index.ts';

// The one store of what Portcullis keeps about tokens beyond the engine's own models:
// refresh-token rotation (claims, sealed successors), remembered consent, grants as people
// see them, and their revocation. The engine's models themselves go through the adapter
// (engine-adapter.ts). Every id here is the stored id (token-id.ts), never a bearer value.
// Implementations: store/prisma-token-store.ts (both databases, one part per concern), and an
// in-memory fake for unit tests of the rules built on it (test/fakes/). The contract below is
// what they share; test/oidc/token-store-contract.integration.test.ts runs one suite on all.

/** Where a refresh token stands in its one rotation. */
export interface RotationState {
  /** Milliseconds since a rotation claimed the token (database clock); undefined while unused. */
  readonly claimAgeMs: number | undefined;
  /** The rotation completed: its response was stored, and the token is spent for good. */
  readonly rotated: boolean;
  /** The sealed successor (response and binding) of the completed rotation, while kept. */
  readonly successor: string | undefined;
}

export interface StoredRefreshToken extends RotationState {
  readonly payload: AdapterPayload;
  readonly expiresAt: Date | null;
  readonly grantId: string | null;
  /**
   * The token's grant, read in the same statement (a refresh reads both): null when it is
   * gone, undefined when this store does not read it along.
   */
  readonly grant?: StoredGrant | null;
  /**
   * The person the token was issued to (payload.accountId), read in the same statement: the
   * engine reads them next. null when no such account exists, undefined when not read along.
   */
  readonly account?: AccountRecord | null;
}

/** A grant's row as the engine stored it. */
export interface StoredGrant {
  readonly payload: AdapterPayload;
  readonly expiresAt: Date | null;
}

/** The successor a rotation stores when it completes (its id is the stored id). */
export interface NewRefreshToken {
  readonly id: string;
  readonly payload: AdapterPayload;
  readonly expiresAt: Date | null;
  readonly grantId: string | null;
}

export type ClaimOutcome =
  /** The token was unused: this claim rotates it. */
  | 'claimed'
  /** An earlier claim never completed within its lease (its instance died, the database failed): this claim replaces it, and what the earlier one stored is gone. */
  | 'taken_over'
  /** Claimed by another rotation that is running or completed, or the token is gone. */
  | 'refused';

/** What a person allowed a client; the starting point of every new grant for them. */
export interface ConsentRecord {
  /** Space-separated OIDC scopes. */
  readonly oidcScope: string;
  readonly oidcClaims: readonly string[];
  /** Resource indicator -> space-separated scopes. */
  readonly resourceScopes: Readonly<Record<string, string>>;
}

export interface GrantRow {
  readonly id: string;
  readonly accountId: string | null;
  readonly clientId: string | null;
  readonly payload: unknown;
  readonly expiresAt: Date | null;
}

/** A browser session as stored: its uid (the engine's handle; the cookie's value is only hashed), and the engine's payload. */
export interface SessionRow {
  readonly uid: string;
  readonly payload: unknown;
  readonly expiresAt: Date | null;
}

export interface RevocationCount {
  readonly grants: number;
  readonly tokens: number;
}

export interface RefreshRotationStore {
  /** One read: the refresh token and where its rotation stands; undefined when missing. */
  findRefreshToken(id: string): Promise<StoredRefreshToken | undefined>;
  /**
   * Atomically claims the token for one rotation. Of any number of concurrent claims at
   * most one gets 'claimed' or 'taken_over'. 'taken_over' (a claim older than `leaseMs`
   * that never completed) also removes the refresh tokens the abandoned claim stored.
   */
  claimRefreshToken(id: string, claim: string, leaseMs: number): Promise<ClaimOutcome>;
  /**
   * Makes the rotation final, in one atomic step: stores the sealed response (`successor`)
   * for a retry inside the grace window and writes the new refresh token (`next`, marked as
   * rotated from `id`). False, with nothing written, when `claim` no longer holds the token.
   */
  completeRotation(id: string, claim: string, successor: string, next?: NewRefreshToken): Promise<boolean>;
  /** Gives up a claim that did not complete (the request failed), so a retry may claim at once. */
  releaseClaim(id: string, claim: string): Promise<void>;
  readRotation(id: string): Promise<RotationState | undefined>;
}

export interface ConsentStore {
  findConsent(accountId: string, clientId: string): Promise<ConsentRecord | undefined>;
  /** Adds to what is remembered (never narrows it). */
  rememberConsent(accountId: string, clientId: string, consent: ConsentRecord): Promise<void>;
}

export interface GrantStore {
  /** Live grants (not expired) of an account, or one live grant. */
  listGrants(where: { accountId: string }): Promise<GrantRow[]>;
  findGrant(grantId: string): Promise<GrantRow | undefined>;
  /** Ids of every grant (live or not) of an account, a client, or both. */
  grantIds(where: { accountId?: string; clientId?: string }): Promise<string[]>;
  /** Deletes the grants and every code, access and refresh token under them, in one transaction. */
  revokeGrants(grantIds: readonly string[]): Promise<RevocationCount>;
  /** Forgets consent: of one person for one client, of every client of a person, or of everyone for a client. */
  forgetConsent(where: { accountId?: string; clientId?: string }): Promise<number>;
  /**
   * Makes `grantId` (a token exchange's) live only as long as `parentId`: deleting the parent
   * deletes it (a foreign key, so a revocation running at the same time either waits for the
   * link and takes the grant with it, or has deleted the parent and the link fails). False
   * when the parent is gone.
   */
  linkExchangedGrant(grantId: string, parentId: string): Promise<boolean>;
  /** Deletes the grants exchanged from `grantId`'s tokens (and theirs, down the chain): how many. */
  revokeExchangedFrom(grantId: string): Promise<number>;
  /** Ends every browser session of an account (ended-session.ts): how many were live. */
  endSessions(accountId: string): Promise<number>;
  /** Live browser sessions of an account. */
  listSessions(accountId: string): Promise<SessionRow[]>;
  /**
   * Ends one browser session of an account and revokes, in the same transaction, the grants
   * `grantsIn` names in its payload that are the account's: the payload it held with what
   * was revoked, or undefined when there was none live (already ended, or another
   * account's). Of concurrent calls exactly one gets it.
   */
  endSession(accountId: string, uid: string, grantsIn: (payload: unknown) => readonly string[]): Promise<({ readonly payload: unknown } & RevocationCount) | undefined>;
  /**
   * Deletes what a client holds under no grant: its client-credentials tokens, and its
   * device codes (a pending one has no grant yet, and a client registered later under the
   * same id must not redeem it).
   */
  deleteUngrantedTokens(clientId: string): Promise<number>;
}

/** Where a JWT access token stands beyond its signature. */
export interface JwtStanding {
  /** Its jti is on the deny-list (revoked before it expires). */
  readonly denied: boolean;
  /** The grant it names exists and has not expired (true when it names none). */
  readonly grantLive: boolean;
}

export interface JwtStore {
  /** One round trip: the deny-list and, for a person's token, its grant. */
  jwtStanding(jti: string, grantId: string | undefined): Promise<JwtStanding>;
  /** Denies a JWT access token by its jti until it expires. */
  denyJwt(jti: string, expiresAt: Date): Promise<void>;
}

/**
 * The memory of DPoP proofs spent at our resource endpoints (RFC 9449 section 11.1): a
 * proof's jti is accepted once per key, by whichever instance sees it first.
 */
export interface DpopReplayStore {
  /** True the first time this key's proof id is presented; false for every replay. Kept until `until`. */
  firstUse(jkt: string, jti: string, until: Date): Promise<boolean>;
}

/** Which pushed authorization requests (RFC 9126) have started an authorization. */
export interface PushedRequestStore {
  /** True for the first authorization that takes this (stored) pushed request id; false for every other. Kept until `until`. */
  takePushedRequest(id: string, until: Date): Promise<boolean>;
}

export interface TokenStore extends RefreshRotationStore, ConsentStore, GrantStore, JwtStore, DpopReplayStore, PushedRequestStore {}
