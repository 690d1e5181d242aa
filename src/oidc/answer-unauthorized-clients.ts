import type { Middleware } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';

import { DEVICE_CODE_GRANT } from '../clients/index.ts';

// A client asking for a grant it is not registered for: RFC 6749 5.2 (and RFC 8628 3.2 for
// a device code) answer unauthorized_client ("not authorized to use this authorization
// grant type"). The engine refuses it as invalid_request; the refusal stays, only its code
// is corrected. A grant type the deployment does not serve stays unsupported_grant_type.

const REFUSAL = 'requested grant type is not allowed for this client';

export function answerUnauthorizedClients(): Middleware {
  return async (koaCtx, next) => {
    await next();
    const ctx = koaCtx as unknown as KoaContextWithOIDC;
    const { route, client } = ctx.oidc ?? {};
    if (!client || ctx.status !== 400) return;
    const body = ctx.body as { error?: unknown; error_description?: unknown } | undefined;
    if (body?.error !== 'invalid_request') return;
    if (route === 'device_authorization' && !client.grantTypes?.includes(DEVICE_CODE_GRANT)) {
      ctx.body = { error: 'unauthorized_client', error_description: 'the client is not registered for the device_code grant type' };
    } else if (route === 'token' && body.error_description === REFUSAL) {
      ctx.body = { error: 'unauthorized_client', error_description: 'the client is not registered for this grant type' };
    }
  };
}
