import type { KoaContextWithOIDC } from 'oidc-provider';

import type { Sealer } from '../crypto/index.ts';
import { bindingOf, mayRepeat, type RotationBinding } from './refresh-grace-eligibility.ts';
import type { NewRefreshToken, RefreshRotationStore } from './token-store.ts';

// The successor of a rotated refresh token: the response, stored sealed with whom it may be
// repeated to (refresh-rotation.ts). Rules:
// - A rotation completes only when its response is stored, before it is sent; the stored
//   response is sealed, and carries the binding the grace rule compares a retry with.
// - A completion that finds its claim taken over (it ran past its lease) must not leave:
//   its tokens are withdrawn and the client gets 503 with Retry-After, never a second
//   successor.
// - A retry gets the stored response only if refresh-grace-eligibility.ts allows it; each
//   repeat is counted (onGraceHit).

/** What a completed rotation stored, sealed: its response and whom it may be repeated to. */
interface Successor extends RotationBinding {
  readonly body: unknown;
}

export interface SuccessorReplies {
  /**
   * Stores the response of the rotation holding `held` with its successor token `next`, or
   * withdraws it (503) if the claim was taken over.
   */
  complete(ctx: KoaContextWithOIDC, held: { id: string; claim: string }, next: NewRefreshToken | undefined): Promise<void>;
  /** Answers with the sealed successor if the request may have it; false when it may not. */
  repeat(ctx: KoaContextWithOIDC, sealed: string): Promise<boolean>;
}

export function createSuccessorReplies(deps: {
  store: RefreshRotationStore;
  sealer: Sealer;
  onGraceHit?: (() => void) | undefined;
}): SuccessorReplies {
  const { store, sealer } = deps;
  const openSuccessor = (sealed: string): Successor | undefined => {
    try {
      return JSON.parse(sealer.open(sealed)) as Successor;
    } catch {
      return undefined;
    }
  };

  return {
    async complete(ctx, held, next) {
      const binding = await bindingOf(ctx);
      if (binding === undefined) throw new TypeError('a completed refresh has no client');
      const successor: Successor = { ...binding, body: ctx.body };
      if (await store.completeRotation(held.id, held.claim, sealer.seal(JSON.stringify(successor)), next)) return;
      // Our claim ran past its lease and a retry took the token over: this response must
      // not leave, or there would be two successors. Its refresh token was never written;
      // withdraw the access token it carries.
      await ctx.oidc.entities.AccessToken?.destroy();
      ctx.status = 503;
      ctx.set('Retry-After', '1');
      ctx.body = { error: 'temporarily_unavailable', error_description: 'the refresh took too long; send it again' };
    },

    async repeat(ctx, sealed) {
      const successor = openSuccessor(sealed);
      // A reply that cannot be opened (sealed under another master secret) is no reply:
      // the retry is treated as any other that gets no repeat, never as a 500.
      if (!successor || !mayRepeat(successor, await bindingOf(ctx))) return false;
      ctx.status = 200;
      ctx.body = successor.body;
      deps.onGraceHit?.();
      return true;
    },
  };
}
