import type { KoaContextWithOIDC } from 'oidc-provider';

import type { AccountRecord } from '../accounts/index.ts';

import type { NewRefreshToken, StoredGrant } from './token-store.ts';

// What one token request carries through a refresh-token rotation (refresh-rotation.ts).
// Rules:
// - Only a refresh_token grant at the token endpoint takes part; any other read of a
//   refresh token (introspection, revocation) sees a claimed token as used.
// - The grace window is judged by when a retry was sent, not by how long it queued: the
//   request's own wait since it arrived is taken off the claim's age.
// - The window does not run while the database is away: a client whose refresh was
//   completed but whose answer was lost to the outage can only retry once it is back
//   (issue 13). What this instance saw of the database's outages is taken off the claim's
//   age, at most MAX_PAUSE_MS, so a long outage cannot stretch the window without bound.
// - A window of 0 admits nothing.

export interface RequestState {
  readonly ctx: KoaContextWithOIDC;
  /** When the request arrived: the window is judged by when a retry was sent, not by how long it queued. */
  readonly arrivedAt: number;
  /** This request holds the claim on this (stored) token id; `finished` is told when it is over. */
  claim?: { id: string; claim: string; finished: () => void };
  /** The refresh token the engine issued under the claim: written when the rotation completes. */
  successor?: NewRefreshToken;
  /** The presented token's grant, read along with it (null: gone); the engine's next read takes it. */
  grant?: { readonly id: string; readonly row: StoredGrant | null };
  /** The presented token's person, read along with it (null: gone); every read of them in this request takes it. */
  account?: { readonly id: string; readonly row: AccountRecord | null };
  /** A used token was shown to the engine as unused: a refusal from here on is reuse. */
  hidden?: { id: string; grantId: string | null };
  /** The engine passed every check and only the consume lost: repeat this successor if the binding matches. */
  replay?: string;
}

/**
 * Whether a request arrived within the window after the token was claimed. Ages come from
 * the database clock; the request's own wait since it arrived is taken off, so that
 * concurrent refreshes stay inside the window however long they queued under load.
 */
export function arrivedWithin(state: RequestState, claimAgeMs: number, windowMs: number, paused?: WindowPause): boolean {
  if (windowMs <= 0) return false;
  const now = Date.now();
  const age = claimAgeMs - (now - state.arrivedAt);
  if (age <= windowMs) return true;
  const pausedMs = Math.min(MAX_PAUSE_MS, paused?.(now - claimAgeMs, state.arrivedAt) ?? 0);
  return age - pausedMs <= windowMs;
}

/** Milliseconds of [from, to] (epoch ms) during which the database was away (database-outage.ts). */
export type WindowPause = (from: number, to: number) => number;

/** The most an outage adds to the grace window. */
export const MAX_PAUSE_MS = 5 * 60_000;

export function isRefresh(state: RequestState | undefined): state is RequestState {
  const oidc = state?.ctx.oidc;
  return oidc?.route === 'token' && oidc.params?.grant_type === 'refresh_token';
}
