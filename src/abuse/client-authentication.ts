import type { Context, Middleware } from 'koa';

import { claimedClientId } from './client-credentials.ts';
import type { CredentialThrottle } from './credential-throttle.ts';
import { sendTooManyRequests, type RefusalOptions } from './too-many-requests.ts';

// Client-secret guessing at the token, introspection and revocation endpoints, throttled
// like password guessing (credential-throttle.ts): per client id and address, per address,
// and per client across addresses without slowing the client's own servers.
//
// In front of the engine the client id is only claimed (HTTP Basic); whether the secret was
// right is known once the engine answered: its 401 invalid_client is a wrong secret or an
// unknown client; any other answer for the client it loaded (ctx.oidc.client) is a success.

export interface ClientAuthGuardOptions {
  readonly throttle: CredentialThrottle;
  /** The engine's endpoints where clients authenticate. */
  readonly paths: readonly string[];
  readonly refusal: RefusalOptions;
  /** Each refused request (a metric). */
  readonly onRefused?: (ctx: Context, scope: string) => void;
}

function authenticatedClientId(ctx: Context): string | undefined {
  const oidc = (ctx as { oidc?: { client?: { clientId?: unknown } } }).oidc;
  const id = oidc?.client?.clientId;
  return typeof id === 'string' ? id : undefined;
}

export function guardClientAuthentication(options: ClientAuthGuardOptions): Middleware {
  const paths = new Set(options.paths);
  const { throttle } = options;
  return async (ctx, next) => {
    const clientId = ctx.method === 'POST' && paths.has(ctx.path) ? claimedClientId(ctx) : undefined;
    if (!clientId) {
      await next();
      return;
    }
    const attempt = { subject: clientId, ip: ctx.ip };
    const verdict = await throttle.check(attempt);
    if (!verdict.allowed) {
      options.onRefused?.(ctx, verdict.scope);
      await sendTooManyRequests(ctx, options.refusal, {
        retryAfterSeconds: verdict.retryAfterSeconds,
        message: verdict.blocked
          ? 'Too many failed client authentications from this address.'
          : 'Too many failed client authentications: wait before trying again.',
      });
      return;
    }
    await next();
    // The engine loads the client before it compares the secret, so ctx.oidc.client is set
    // on a wrong secret too: the 401 invalid_client decides.
    if (ctx.status === 401 && (ctx.body as { error?: unknown } | undefined)?.error === 'invalid_client') {
      await throttle.recordFailure(attempt);
    } else if (authenticatedClientId(ctx) === clientId && ctx.status < 500) {
      if (!verdict.known) await throttle.recordSuccess(attempt);
    }
  };
}
