import { decodeJwt } from 'jose';
import type { Middleware } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';

import { storedId } from './token-id.ts';
import type { PushedRequestStore } from './token-store.ts';

// A pushed authorization request (RFC 9126) starts one authorization. The engine marks it
// consumed only when the authorization responds, so until then its request_uri (visible in
// the browser's address bar and history) would start any number of authorizations, for
// anyone who saw it. Here the first /auth that the engine accepted it for takes it, in one
// atomic insert shared by every instance; every other is refused as invalid_request_uri
// and what it started (its interaction, or a code when it answered at once) is removed; if
// the take cannot be written, the answer is 503 and nothing it started leaves. The authorization that took it goes on
// by its interaction, which the engine resumes without the request_uri.
//
// A pushed request is also bound to the client that pushed it (RFC 9126 section 4). The
// engine refuses another client's /auth with it, but only after it copied the pushed
// `state` into the request, so its error redirect carried that state to the other client's
// redirect URI (the parameters PAR keeps off the front channel); and the refusal would
// spend the request, so whoever saw a request_uri could void it. Here such a request is
// refused without any redirect, and left to the client that pushed it.

export function spendPushedRequests(store: PushedRequestStore): Middleware {
  return async (koaCtx, next) => {
    await next();
    const ctx = koaCtx as unknown as KoaContextWithOIDC;
    if (ctx.oidc?.route !== 'authorization') return;
    const pushed = ctx.oidc.entities.PushedAuthorizationRequest;
    if (!pushed?.jti) return;
    if (pushedBy(pushed.request) !== ctx.oidc.client?.clientId) {
      await withdraw(ctx);
      ctx.status = 400;
      ctx.body = { error: 'invalid_request_uri', error_description: 'request_uri was not pushed by this client' };
      return;
    }
    const until = new Date(((pushed.exp ?? 0) + 60) * 1000);
    let taken: boolean;
    try {
      taken = await store.takePushedRequest(storedId('PushedAuthorizationRequest', pushed.jti), until);
    } catch {
      // Not known to be the first: fail closed. The browser never gets the interaction's
      // cookie, so nothing it started can be resumed; the client may push again.
      await withdraw(ctx);
      ctx.status = 503;
      ctx.set('Retry-After', '1');
      ctx.body = { error: 'temporarily_unavailable', error_description: 'the request_uri could not be checked; try again' };
      return;
    }
    if (taken) return;
    await withdraw(ctx);
    ctx.status = 400;
    ctx.body = { error: 'invalid_request_uri', error_description: 'request_uri is invalid, expired, or was already used' };
  };
}

/** The client a pushed request came from: its request object's client_id (the engine checked it against the pushing client). */
function pushedBy(request: unknown): string | undefined {
  if (typeof request !== 'string') return undefined;
  try {
    const clientId = decodeJwt(request).client_id;
    return typeof clientId === 'string' ? clientId : undefined;
  } catch {
    return undefined;
  }
}

/** Replaces the engine's answer (a redirect to its interaction, or with a code) by nothing it could be resumed from. */
async function withdraw(ctx: KoaContextWithOIDC): Promise<void> {
  const { Interaction, AuthorizationCode } = ctx.oidc.entities;
  // Best effort: without the cookie and the redirect they are unreachable anyway.
  await Promise.allSettled([Interaction?.destroy(), AuthorizationCode?.destroy()]);
  ctx.remove('Location');
  ctx.remove('Set-Cookie');
  ctx.set('Cache-Control', 'no-store');
}
