import type { KoaContextWithOIDC } from 'oidc-provider';

import type { NewRefreshToken } from './token-store.ts';

// What one token request carries through a refresh-token rotation (refresh-rotation.ts).
// Rules:
// - Only a refresh_token grant at the token endpoint takes part; any other read of a
//   refresh token (introspection, revocation) sees a claimed token as used.
// - The grace window is judged by when a retry was sent, not by how long it queued: the
//   request's own wait since it arrived is taken off the claim's age.
// - A window of 0 admits nothing.

export interface RequestState {
  readonly ctx: KoaContextWithOIDC;
  /** When the request arrived: the window is judged by when a retry was sent, not by how long it queued. */
  readonly arrivedAt: number;
  /** This request holds the claim on this (stored) token id; `finished` is told when it is over. */
  claim?: { id: string; claim: string; finished: () => void };
  /** The refresh token the engine issued under the claim: written when the rotation completes. */
  successor?: NewRefreshToken;
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
export function arrivedWithin(state: RequestState, claimAgeMs: number, windowMs: number): boolean {
  return windowMs > 0 && claimAgeMs - (Date.now() - state.arrivedAt) <= windowMs;
}

export function isRefresh(state: RequestState | undefined): state is RequestState {
  const oidc = state?.ctx.oidc;
  return oidc?.route === 'token' && oidc.params?.grant_type === 'refresh_token';
}
