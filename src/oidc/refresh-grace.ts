import { AsyncLocalStorage } from 'node:async_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

import type { Middleware } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';

import type { Sealer } from '../crypto/index.ts';
import type { PrismaClient } from '../db/index.ts';

// The refresh-token grace window, beyond the engine. The engine rotates a refresh token on
// every use and treats any second use as reuse (it revokes the whole grant). A browser
// with two tabs, or a client retrying after a lost response, would then log its user out.
// Inside the window a second refresh with the same token gets the very same response the
// first one got (same successor refresh token, same access token); outside it, the
// engine's reuse detection stands.
//
// How: the adapter asks `isInGrace` when it reads or consumes a refresh token. Within the
// window it hides `consumed` from the engine (so it does not revoke) and flags the request;
// the engine's own atomic consume then fails, and this middleware answers with the
// winner's stored response instead of that failure. (Reuse outside the window is the
// engine's: it revokes the grant, and observability/provider-events.ts records it.)

export interface RefreshGraceHooks {
  /** True (and the current request is flagged) when `consumedAt` lies inside the window. */
  isInGrace(refreshTokenId: string, consumedAt: Date): boolean;
}

export interface RefreshGrace extends RefreshGraceHooks {
  readonly middleware: Middleware;
}

export interface RefreshGraceEvents {
  /** A replay inside the window was answered with the stored response. */
  onGraceHit?(): void;
}

interface RequestState {
  graceTokenId?: string;
}

/** How long a replay waits for the winning request to store its response. */
const SUCCESSOR_WAIT_MS = 3_000;
const SUCCESSOR_POLL_MS = 25;

export function createRefreshGrace(deps: {
  prisma: PrismaClient;
  sealer: Sealer;
  windowSeconds: number;
  events?: RefreshGraceEvents;
}): RefreshGrace {
  const { prisma, sealer, windowSeconds } = deps;
  const storage = new AsyncLocalStorage<RequestState>();
  const windowMs = windowSeconds * 1000;

  async function waitForSuccessor(id: string): Promise<unknown> {
    const deadline = Date.now() + SUCCESSOR_WAIT_MS;
    for (;;) {
      const row = await prisma.oidcRefreshToken.findUnique({ where: { id }, select: { successorCiphertext: true } });
      if (!row) return undefined; // destroyed: reuse detection revoked the family meanwhile
      if (row.successorCiphertext) return JSON.parse(sealer.open(row.successorCiphertext)) as unknown;
      if (Date.now() >= deadline) return undefined;
      await sleep(SUCCESSOR_POLL_MS);
    }
  }

  const middleware: Middleware = async (koaCtx, next) => {
    const ctx = koaCtx as unknown as KoaContextWithOIDC;
    if (ctx.path !== '/token' || ctx.method !== 'POST') {
      await next();
      return;
    }
    const state: RequestState = {};
    await storage.run(state, next);
    if (ctx.oidc?.params?.grant_type !== 'refresh_token') return;

    if (ctx.status === 200) {
      // The winner: keep its response for replays inside the window.
      const rotated = ctx.oidc.entities.RotatedRefreshToken;
      if (windowMs > 0 && rotated?.jti) {
        await prisma.oidcRefreshToken.updateMany({
          where: { id: rotated.jti },
          data: { successorCiphertext: sealer.seal(JSON.stringify(ctx.body)) },
        });
      }
      return;
    }

    const body = ctx.body as { error?: string; error_description?: string } | undefined;
    if (body?.error !== 'invalid_grant') return;
    if (state.graceTokenId) {
      const successor = await waitForSuccessor(state.graceTokenId);
      if (successor) {
        ctx.status = 200;
        ctx.body = successor;
        deps.events?.onGraceHit?.();
      }
      return;
    }
  };

  return {
    middleware,
    isInGrace(refreshTokenId, consumedAt) {
      const state = storage.getStore();
      if (!state || windowMs <= 0 || Date.now() - consumedAt.getTime() > windowMs) return false;
      state.graceTokenId = refreshTokenId;
      return true;
    },
  };
}
