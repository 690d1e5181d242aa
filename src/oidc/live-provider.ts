import type { Middleware } from 'koa';
import mount from 'koa-mount';

import type { AccessTokenVerifier } from './access-token-verifier.ts';
import type { BuiltProvider } from './create-provider.ts';

// oidc-provider reads `jwks` once, in its constructor, into a keystore and a published JWKS
// it keeps privately (lib/helpers/initialize_keystore.js): a live Provider cannot take new
// signing keys. So a key change builds a new engine (create-provider.ts, no I/O) and swaps
// it in here, in one assignment. A request is handed to the engine that is current when it
// arrives and finishes on it: one that began before a swap ends on the old engine, which
// the garbage collector takes once nothing runs on it.

export interface LiveProvider {
  /** The engine requests are handed to now. */
  current(): BuiltProvider;
  /** From the next request on, `next` answers. */
  replace(next: BuiltProvider): void;
  /** Mounts whichever engine is current when a request arrives (app.ts). */
  readonly middleware: Middleware;
  /** Discovery and the JWKS, answered from the current engine's copies (published-documents.ts). */
  readonly answerPublishedDocuments: Middleware;
  /** The verifier of the current engine (its keys), for our own APIs. */
  readonly accessTokens: AccessTokenVerifier;
}

export function createLiveProvider(initial: BuiltProvider): LiveProvider {
  let built = initial;
  let mounted = mount(initial.provider);
  return {
    current: () => built,
    replace(next) {
      built = next;
      mounted = mount(next.provider);
    },
    // `mounted` is read once per request, before it runs.
    middleware: (ctx, next) => mounted(ctx, next) as Promise<void>,
    answerPublishedDocuments: (ctx, next) => built.publishedDocuments.answer(ctx, next) as Promise<void>,
    accessTokens: {
      verify: (token) => built.accessTokens.verify(token),
      revokeJwt: (token, byClientId) => built.accessTokens.revokeJwt(token, byClientId),
      clientTokenLive: (clientId, generation, current) => built.accessTokens.clientTokenLive(clientId, generation, current),
    },
  };
}
