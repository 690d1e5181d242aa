import { AsyncLocalStorage } from 'node:async_hooks';

import type { Middleware } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';

import type { AccountRecord } from '../accounts/index.ts';
import type { Sealer } from '../crypto/index.ts';
import { createRefreshClaims } from './refresh-claim.ts';
import { arrivedWithin, isRefresh, type RequestState, type WindowPause } from './refresh-request.ts';
import { createSuccessorReplies } from './refresh-successor.ts';
import type { NewRefreshToken, RefreshRotationStore, RotationState, StoredGrant } from './token-store.ts';

// Refresh-token rotation around the engine: every refresh rotates the token, exactly one
// successor comes of it, and what our seams add never loosens what the engine checks.
//
// Promises (each tested in test/oidc/refresh-rotation.unit.test.ts against a fake store, and
// end to end in test/oidc/refresh-rotation.flow.test.ts on both databases):
// 1. One successor. A refresh first claims the token atomically (token-store.ts); of any
//    number of concurrent refreshes one claims it, the others wait for its outcome.
// 2. A grace reply only to the same request, repeated. Inside the grace window a second
//    refresh with the same token gets the first one's stored response, but only once the
//    engine has run every one of its checks for that second request (client
//    authentication, client match, DPoP proof and key binding, grant and account), and
//    only for the same client, authenticated the same way, proving the same DPoP key and
//    asking for the same scope and resources as the first. A public client without DPoP
//    proves nothing, so it gets no repeat: its retry is reuse. The reply is flagged where the engine consumes the token (its last step),
//    never when the token is merely read.
// 3. Everything else is reuse. A rotated token presented outside the window, or inside it
//    but refused for any reason, revokes its grant (the token family) and is recorded.
// 4. Crash-safe. The claim completes only when the response is stored, before it is sent,
//    and the successor token is written in the same statement as the completion: a
//    successor exists exactly when its rotation completed.
//    A refresh that died between claim and completion (instance killed, database gone)
//    never reached the client, so its claim is released (request failed) or, after a
//    lease, taken over by the retry; what the dead claim stored is removed. A completion
//    that finds its claim taken over withdraws its tokens and answers 503: the client
//    retries and gets the one successor.
//
// The stages, each in a file named for what it decides: refresh-claim.ts (claim, wait,
// lease and takeover), refresh-grace-eligibility.ts (who may get a repeat),
// refresh-successor.ts (the sealed stored response: complete, withdraw, repeat) and
// refresh-request.ts (what a request carries, and the window). This file assembles them
// around the engine's hooks.

export interface RefreshRotationHooks {
  /** Reading a refresh token: whether the engine sees it as unused (true) or used. */
  presentAsUnused(id: string, grantId: string | null, state: RotationState): boolean;
  /** The engine consumes the token: claim it, or fail with invalid_grant. */
  consume(id: string): Promise<void>;
  /**
   * A refresh token the engine stores: true when it is the successor of the rotation this
   * request holds, kept to be written with the rotation's completion (nothing to write now).
   */
  holdSuccessor(next: NewRefreshToken): boolean;
  /** The grant read along with the presented refresh token, kept for the engine's read of it in this refresh. */
  keepGrant(grantId: string, row: StoredGrant | null): void;
  /** The grant kept by keepGrant in this refresh, once: undefined when none was kept for this id. */
  takeGrant(grantId: string): StoredGrant | null | undefined;
  /** The person read along with the presented refresh token, kept for the engine's reads of them in this refresh. */
  keepAccount(accountId: string, row: AccountRecord | null): void;
  /** The person kept by keepAccount in this refresh (null: no such account); undefined when none was kept for this id. */
  keptAccount(accountId: string): AccountRecord | null | undefined;
}

export interface RefreshRotation extends RefreshRotationHooks {
  /** Runs around the engine's token endpoint (provider.use). */
  readonly middleware: Middleware;
}

export interface RefreshRotationEvents {
  /** A retry inside the window was answered with the stored response. */
  onGraceHit?(): void;
}

export interface RefreshRotationOptions {
  readonly store: RefreshRotationStore;
  readonly sealer: Sealer;
  readonly windowSeconds: number;
  /** How long a claim may run before a retry may take it over (default 5 s). */
  readonly leaseMs?: number;
  /** Revokes a grant, its tokens and codes: a detected reuse. */
  readonly revokeFamily: (ctx: KoaContextWithOIDC, grantId: string) => Promise<void>;
  /** The database's outages seen by this instance: the grace window does not run during them. */
  readonly paused?: WindowPause | undefined;
  readonly events?: RefreshRotationEvents;
}

export function createRefreshRotation(options: RefreshRotationOptions): RefreshRotation {
  const { store } = options;
  const windowMs = options.windowSeconds * 1000;
  const requests = new AsyncLocalStorage<RequestState>();
  const claims = createRefreshClaims({ store, windowMs, leaseMs: options.leaseMs, paused: options.paused });
  const replies = createSuccessorReplies({ store, sealer: options.sealer, onGraceHit: () => options.events?.onGraceHit?.() });

  const middleware: Middleware = async (koaCtx, next) => {
    if (koaCtx.method !== 'POST') {
      await next();
      return;
    }
    const ctx = koaCtx as unknown as KoaContextWithOIDC;
    const state: RequestState = { ctx, arrivedAt: Date.now() };
    try {
      await requests.run(state, next);
      if (!isRefresh(state)) return;
      if (state.claim) {
        const { id, claim } = state.claim;
        const release = () => store.releaseClaim(id, claim).catch(() => {});
        if (ctx.status !== 200) await release();
        else {
          // A completion that failed (the database went away) wrote nothing: give the claim
          // back, so the client's retry claims at once instead of waiting out the lease.
          // (The release matches only while the rotation is not complete.)
          await replies.complete(ctx, state.claim, state.successor).catch(async (error: unknown) => {
            await release();
            throw error;
          });
        }
        return;
      }
    } finally {
      state.claim?.finished();
    }
    // Only a request that did not rotate the token itself may be answered with the repeat.
    if (state.replay && !state.claim && (await replies.repeat(ctx, state.replay))) return;
    if (state.hidden?.grantId && ctx.status >= 400 && ctx.status < 500) {
      // A used token, refused: reuse. The engine would have revoked had it seen the token
      // as used; we hid that only to let a genuine retry through.
      await options.revokeFamily(ctx, state.hidden.grantId);
    }
  };

  return {
    middleware,

    presentAsUnused(id, grantId, rotation) {
      if (rotation.claimAgeMs === undefined) return true;
      const state = requests.getStore();
      // Outside a refresh (introspection, revocation) a claimed token is used.
      if (!isRefresh(state)) return false;
      // Claimed but not completed: in flight, or abandoned and waiting to be taken over.
      // Completed: a retry inside the window may get its response repeated.
      const unused = !rotation.rotated || arrivedWithin(state, rotation.claimAgeMs, windowMs, options.paused);
      if (unused) state.hidden = { id, grantId };
      return unused;
    },

    consume(id) {
      const current = requests.getStore();
      return claims.claim(id, isRefresh(current) ? current : undefined);
    },

    keepGrant(grantId, row) {
      const state = requests.getStore();
      if (isRefresh(state)) state.grant = { id: grantId, row };
    },

    takeGrant(grantId) {
      const state = requests.getStore();
      const kept = isRefresh(state) ? state.grant : undefined;
      if (!kept || kept.id !== grantId) return undefined;
      state!.grant = undefined;
      return kept.row;
    },

    keepAccount(accountId, row) {
      const state = requests.getStore();
      if (isRefresh(state)) state.account = { id: accountId, row };
    },

    keptAccount(accountId) {
      const state = requests.getStore();
      const kept = isRefresh(state) ? state.account : undefined;
      return kept?.id === accountId ? kept.row : undefined;
    },

    holdSuccessor(next) {
      const state = requests.getStore();
      if (!isRefresh(state) || !state.claim) return false;
      // The engine saves one successor per rotation; a second would be written at once,
      // outside the rotation's one statement. Refuse it rather than store it.
      if (state.successor) throw new TypeError('a refresh-token rotation saved a second refresh token');
      // A copy: the engine's model could still change the objects it shares with the payload.
      state.successor = structuredClone(next);
      return true;
    },
  };
}
