import type { Middleware } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';

import { DEVICE_CODE_GRANT } from '../clients/index.ts';

// A client not registered for the device grant asks for a device code: RFC 8628 3.2 answers
// with RFC 6749 5.2's errors, and this one is unauthorized_client ("not authorized to use
// this authorization grant type"), as the token endpoint already says for any grant. The
// engine refuses it as invalid_request; the refusal stays, only its code is corrected.

export function answerUnauthorizedDeviceClients(): Middleware {
  return async (koaCtx, next) => {
    await next();
    const ctx = koaCtx as unknown as KoaContextWithOIDC;
    if (ctx.oidc?.route !== 'device_authorization' || ctx.status !== 400) return;
    const client = ctx.oidc.client;
    if (!client || client.grantTypes?.includes(DEVICE_CODE_GRANT)) return;
    if ((ctx.body as { error?: unknown } | undefined)?.error !== 'invalid_request') return;
    ctx.body = { error: 'unauthorized_client', error_description: 'the client is not registered for the device_code grant type' };
  };
}
