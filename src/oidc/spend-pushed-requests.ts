import type { Middleware } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';

import { storedId } from './token-id.ts';
import type { PushedRequestStore } from './token-store.ts';

// A pushed authorization request (RFC 9126) starts one authorization. The engine marks it
// consumed only when the authorization responds, so until then its request_uri (visible in
// the browser's address bar and history) would start any number of authorizations, for
// anyone who saw it. Here the first /auth that the engine accepted it for takes it, in one
// atomic insert shared by every instance; every other is refused as invalid_request_uri
// and what it started (its interaction) is removed. The authorization that took it goes on
// by its interaction, which the engine resumes without the request_uri.

export function spendPushedRequests(store: PushedRequestStore): Middleware {
  return async (koaCtx, next) => {
    await next();
    const ctx = koaCtx as unknown as KoaContextWithOIDC;
    if (ctx.oidc?.route !== 'authorization') return;
    const pushed = ctx.oidc.entities.PushedAuthorizationRequest;
    if (!pushed?.jti) return;
    const until = new Date(((pushed.exp ?? 0) + 60) * 1000);
    if (await store.takePushedRequest(storedId('PushedAuthorizationRequest', pushed.jti), until)) return;
    // The engine has answered already (a redirect to its interaction): replace that answer.
    await ctx.oidc.entities.Interaction?.destroy();
    ctx.remove('Location');
    ctx.remove('Set-Cookie');
    ctx.status = 400;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { error: 'invalid_request_uri', error_description: 'request_uri is invalid, expired, or was already used' };
  };
}
