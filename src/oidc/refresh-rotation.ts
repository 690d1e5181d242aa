import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import { calculateJwkThumbprint, decodeProtectedHeader } from 'jose';
import type { Middleware } from 'koa';
import { errors, type KoaContextWithOIDC } from 'oidc-provider';

import type { Sealer } from '../crypto/index.ts';
import type { RefreshRotationStore, RotationState } from './token-store.ts';

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
// 4. Crash-safe. The claim completes only when the response is stored, before it is sent.
//    A refresh that died between claim and completion (instance killed, database gone)
//    never reached the client, so its claim is released (request failed) or, after a
//    lease, taken over by the retry; what the dead claim stored is removed. A completion
//    that finds its claim taken over withdraws its tokens and answers 503: the client
//    retries and gets the one successor.

export interface RefreshRotationHooks {
  /** Reading a refresh token: whether the engine sees it as unused (true) or used. */
  presentAsUnused(id: string, grantId: string | null, state: RotationState): boolean;
  /** The engine consumes the token: claim it, or fail with invalid_grant. */
  consume(id: string): Promise<void>;
  /** A refresh token being stored during a rotation: the (stored) id it was rotated from. */
  rotatedFrom(): string | undefined;
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
  readonly events?: RefreshRotationEvents;
}

/** What a completed rotation stored, sealed: its response and whom it may be repeated to. */
interface Successor {
  readonly clientId: string;
  readonly authMethod: string;
  /** The JWK thumbprint of the DPoP proof that came with the rotation, if one did. */
  readonly jkt: string | null;
  /** What the rotation asked for (scope, resources): a retry must ask for the same to get its response. */
  readonly asked: string;
  readonly body: unknown;
}

interface RequestState {
  readonly ctx: KoaContextWithOIDC;
  /** When the request arrived: the window is judged by when a retry was sent, not by how long it queued. */
  readonly arrivedAt: number;
  /** This request holds the claim on this (stored) token id; `finished` is told when it is over. */
  claim?: { id: string; claim: string; finished: () => void };
  /** A used token was shown to the engine as unused: a refusal from here on is reuse. */
  hidden?: { id: string; grantId: string | null };
  /** The engine passed every check and only the consume lost: repeat this successor if the binding matches. */
  replay?: string;
}

const DEFAULT_LEASE_MS = 5_000;
const FIRST_POLL_MS = 20;
const MAX_POLL_MS = 250;

/** 503 with Retry-After: the client may send the same refresh again. */
function retryLater(description: string): Error {
  const error = new errors.TemporarilyUnavailable(description);
  Object.assign(error, { status: 503, statusCode: 503, expose: true });
  return error;
}

/**
 * Whether a request arrived within the window after the token was claimed. Ages come from
 * the database clock; the request's own wait since it arrived is taken off, so that
 * concurrent refreshes stay inside the window however long they queued under load.
 */
function arrivedWithin(state: RequestState, claimAgeMs: number, windowMs: number): boolean {
  return windowMs > 0 && claimAgeMs - (Date.now() - state.arrivedAt) <= windowMs;
}

function isRefresh(state: RequestState | undefined): state is RequestState {
  const oidc = state?.ctx.oidc;
  return oidc?.route === 'token' && oidc.params?.grant_type === 'refresh_token';
}

/** The request's scope and resource parameters, in one comparable form. */
function askedFor(ctx: KoaContextWithOIDC): string {
  const params = (ctx.oidc.params ?? {}) as { scope?: unknown; resource?: unknown };
  const resource = ([] as unknown[]).concat(params.resource ?? []).map(String).sort();
  return JSON.stringify([typeof params.scope === 'string' ? params.scope : null, resource]);
}

/** The thumbprint of the key of the request's DPoP proof (the engine has verified the proof by the time this is asked). */
async function proofThumbprint(ctx: KoaContextWithOIDC): Promise<string | null> {
  const proof = ctx.get('DPoP');
  if (!proof) return null;
  try {
    const { jwk } = decodeProtectedHeader(proof);
    return jwk ? await calculateJwkThumbprint(jwk) : null;
  } catch {
    return null;
  }
}

export function createRefreshRotation(options: RefreshRotationOptions): RefreshRotation {
  const { store, sealer } = options;
  const windowMs = options.windowSeconds * 1000;
  const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
  const requests = new AsyncLocalStorage<RequestState>();
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

  async function complete(ctx: KoaContextWithOIDC, held: { id: string; claim: string }): Promise<void> {
    const successor: Successor = {
      clientId: ctx.oidc.client!.clientId,
      authMethod: ctx.oidc.client!.clientAuthMethod ?? 'none',
      jkt: await proofThumbprint(ctx),
      asked: askedFor(ctx),
      body: ctx.body,
    };
    if (await store.completeRotation(held.id, held.claim, sealer.seal(JSON.stringify(successor)))) return;
    // Our claim ran past its lease and a retry took the token over: this response must
    // not leave, or there would be two successors. Withdraw what it carries.
    const { RefreshToken, AccessToken } = ctx.oidc.entities;
    await Promise.all([RefreshToken?.destroy(), AccessToken?.destroy()]);
    ctx.status = 503;
    ctx.set('Retry-After', '1');
    ctx.body = { error: 'temporarily_unavailable', error_description: 'the refresh took too long; send it again' };
  }

  async function repeat(ctx: KoaContextWithOIDC, sealed: string): Promise<boolean> {
    const successor = JSON.parse(sealer.open(sealed)) as Successor;
    const client = ctx.oidc.client;
    // A public client proves nothing but, with DPoP, its key: without one, anyone holding
    // the old token could pass for it, so it gets no repeat at all (the retry is reuse).
    const provesItself = successor.authMethod !== 'none' || successor.jkt !== null;
    const same =
      client !== undefined &&
      provesItself &&
      successor.clientId === client.clientId &&
      successor.authMethod === (client.clientAuthMethod ?? 'none') &&
      successor.jkt === (await proofThumbprint(ctx)) &&
      successor.asked === askedFor(ctx);
    if (!same) return false;
    ctx.status = 200;
    ctx.body = successor.body;
    options.events?.onGraceHit?.();
    return true;
  }

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
        if (ctx.status === 200) await complete(ctx, state.claim);
        else await store.releaseClaim(state.claim.id, state.claim.claim).catch(() => {});
        return;
      }
    } finally {
      state.claim?.finished();
    }
    // Only a request that did not rotate the token itself may be answered with the repeat.
    if (state.replay && !state.claim && (await repeat(ctx, state.replay))) return;
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
      const unused = !rotation.rotated || arrivedWithin(state, rotation.claimAgeMs, windowMs);
      if (unused) state.hidden = { id, grantId };
      return unused;
    },

    async consume(id) {
      const current = requests.getStore();
      const state = isRefresh(current) ? current : undefined;
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
          if (state && rotation.successor && rotation.claimAgeMs !== undefined && arrivedWithin(state, rotation.claimAgeMs, windowMs)) {
            state.replay = rotation.successor;
          }
          throw new errors.InvalidGrant('refresh token already used');
        }
      }
    },

    rotatedFrom() {
      const state = requests.getStore();
      return isRefresh(state) ? state.claim?.id : undefined;
    },
  };
}
