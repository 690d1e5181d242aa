import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import { errors } from './engine.ts';

import { arrivedWithin, type RequestState, type WindowPause } from './refresh-request.ts';
import type { RefreshRotationStore } from './token-store.ts';

// Claiming a refresh token for its one rotation (refresh-rotation.ts). Rules:
// - Of any number of concurrent refreshes of one token, one claims it (atomically, in the
//   store); the others wait for its outcome: a rotation in this process directly, one in
//   another instance by polling the store with backoff.
// - A claim that outlives its lease (its instance died) is taken over by the next claim.
// - A wait ends after two leases with 503 and Retry-After: the client sends it again.
// - A token found rotated is refused (invalid_grant); a refresh that arrived inside the
//   window is marked to be answered with the stored successor, if the engine passed it.

const DEFAULT_LEASE_MS = 5_000;
const FIRST_POLL_MS = 20;
const MAX_POLL_MS = 250;

/** 503 with Retry-After: the client may send the same refresh again. */
function retryLater(description: string): Error {
  const error = new errors.TemporarilyUnavailable(description);
  Object.assign(error, { status: 503, statusCode: 503, expose: true });
  return error;
}

export interface RefreshClaims {
  /** Claims the token for `state` (a refresh request, if any), or fails with invalid_grant or 503. */
  claim(id: string, state: RequestState | undefined): Promise<void>;
}

export function createRefreshClaims(deps: {
  store: RefreshRotationStore;
  windowMs: number;
  /** How long a claim may run before a retry may take it over (default 5 s). */
  leaseMs?: number | undefined;
  /** Database outages, which the grace window does not count (refresh-request.ts). */
  paused?: WindowPause | undefined;
}): RefreshClaims {
  const { store, windowMs } = deps;
  const leaseMs = deps.leaseMs ?? DEFAULT_LEASE_MS;
  /**
   * Rotations this process is running, by token id: a concurrent refresh of the same token
   * here waits for it directly instead of polling the database (other instances poll).
   */
  const running = new Map<string, Promise<void>>();

  function hold(id: string, claim: string): RequestState['claim'] {
    let finished!: () => void;
    const done = new Promise<void>((resolve) => (finished = resolve));
    running.set(id, done);
    return {
      id,
      claim,
      finished: () => {
        if (running.get(id) === done) running.delete(id);
        finished();
      },
    };
  }

  /** Waits for this process's own rotation of the token, if one is running (at most a lease). */
  async function awaitLocal(id: string): Promise<void> {
    const local = running.get(id);
    if (local) await Promise.race([local, sleep(leaseMs)]);
  }

  return {
    async claim(id, state) {
      const claim = randomUUID();
      const deadline = Date.now() + 2 * leaseMs;
      for (;;) {
        const outcome = await store.claimRefreshToken(id, claim, leaseMs);
        if (outcome !== 'refused') {
          if (state) state.claim = hold(id, claim);
          return;
        }
        // Another rotation holds the token: wait until it completed, was given up, or
        // outlived its lease (then the claim above takes it over).
        let poll = FIRST_POLL_MS;
        await awaitLocal(id);
        let rotation = await store.readRotation(id);
        while (rotation && !rotation.rotated && rotation.claimAgeMs !== undefined && rotation.claimAgeMs < leaseMs) {
          if (Date.now() > deadline) {
            state?.ctx.set('Retry-After', '1');
            throw retryLater('another refresh with this token is still running');
          }
          await sleep(Math.min(poll, leaseMs - rotation.claimAgeMs + 1));
          poll = Math.min(poll * 2, MAX_POLL_MS);
          await awaitLocal(id);
          rotation = await store.readRotation(id);
        }
        if (!rotation) throw new errors.InvalidGrant('refresh token not found');
        if (rotation.rotated) {
          if (state && rotation.successor && rotation.claimAgeMs !== undefined && arrivedWithin(state, rotation.claimAgeMs, windowMs, deps.paused)) {
            state.replay = rotation.successor;
          }
          throw new errors.InvalidGrant('refresh token already used');
        }
      }
    },
  };
}
