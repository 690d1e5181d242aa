import type { Context, Middleware } from 'koa';

import { readClientClaim } from './client-credentials.ts';
import type { CredentialThrottle } from './credential-throttle.ts';
import { sendTooManyRequests, type RefusalOptions } from './too-many-requests.ts';
import { routedPath } from '../http/index.ts';

// Client-secret guessing at every endpoint where the engine authenticates clients, throttled
// like password guessing (credential-throttle.ts): per client id and address, per address,
// and per client across addresses without slowing the client's own servers.
//
// In front of the engine the client id is only claimed (client-credentials.ts); the attempt
// is reserved then, and settled once the engine answered: its 401 invalid_client is a wrong
// credential or an unknown client (a failure); any other answer for the client it loaded
// (ctx.oidc.client), with a credential, is a success; anything else (a 400 before the
// engine looked at the credential, a 5xx) gives the attempt back.

export interface ClientAuthGuardOptions {
  readonly throttle: CredentialThrottle;
  /** The engine's endpoints where clients authenticate. */
  readonly paths: ReadonlySet<string>;
  readonly refusal: RefusalOptions;
  /** Each refused request (a metric). */
  readonly onRefused?: (ctx: Context, scope: string) => void;
}

const AUTHENTICATED = Symbol('portcullis.authenticatedClient');

/** The client the engine authenticated with a credential (not `none`) on this request. */
export function authenticatedClient(ctx: Context): string | undefined {
  return (ctx.state as { [AUTHENTICATED]?: string })[AUTHENTICATED];
}

/** What the engine's answer says about the claimed client's credential. */
function outcome(ctx: Context, clientId: string): 'failed' | 'authenticated' | 'unchecked' {
  const error = (ctx.body as { error?: unknown } | undefined)?.error;
  if (error === 'invalid_client') return ctx.status === 401 ? 'failed' : 'unchecked';
  // The engine loads the client before it checks the credential; a 401 above is the check failing.
  const client = (ctx as { oidc?: { client?: { clientId?: unknown; clientAuthMethod?: unknown } } }).oidc?.client;
  return client?.clientId === clientId && client.clientAuthMethod !== 'none' && ctx.status < 500 ? 'authenticated' : 'unchecked';
}

export function guardClientAuthentication(options: ClientAuthGuardOptions): Middleware {
  const { throttle, paths } = options;
  return async (ctx, next) => {
    const claim = ctx.method === 'POST' && paths.has(routedPath(ctx.path)) ? await readClientClaim(ctx) : undefined;
    if (claim?.kind !== 'credential') {
      await next();
      return;
    }
    const verdict = await throttle.reserve({ subject: claim.clientId, ip: ctx.ip });
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
    const { reservation } = verdict;
    try {
      await next();
    } catch (error) {
      await reservation.released();
      throw error;
    }
    const result = outcome(ctx, claim.clientId);
    if (result === 'failed') await reservation.failed();
    else if (result === 'unchecked') await reservation.released();
    else {
      await reservation.succeeded();
      (ctx.state as { [AUTHENTICATED]?: string })[AUTHENTICATED] = claim.clientId;
    }
  };
}
