import type { Middleware } from 'koa';

import type { AccessTokenVerifier, VerifiedAccessToken } from '../oidc/index.ts';

// RFC 6750 bearer-token protection for our own APIs. Only the Authorization header is
// accepted (a token in a query string ends up in logs and Referer headers). The token
// must be active, meant for this API (audience) and carry every required scope.

export interface AccessTokenState {
  accessToken: VerifiedAccessToken;
}

function challenge(fields: Record<string, string>): string {
  // Values are our own constants or scope names (no quotes or backslashes by validation).
  return `Bearer ${Object.entries(fields)
    .map(([key, value]) => `${key}="${value}"`)
    .join(', ')}`;
}

export function requireAccessToken(options: {
  verifier: AccessTokenVerifier;
  /** This API's resource indicator: tokens for other audiences are refused. */
  audience: string;
  scope?: string | readonly string[];
  realm?: string;
}): Middleware<AccessTokenState> {
  const required = typeof options.scope === 'string' ? [options.scope] : [...(options.scope ?? [])];
  const realm = options.realm ?? 'portcullis';

  return async (ctx, next) => {
    const refuse = (status: 401 | 403, fields: Record<string, string>, description: string) => {
      ctx.status = status;
      ctx.set('WWW-Authenticate', challenge({ realm, ...fields }));
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { error: fields.error ?? 'invalid_request', error_description: description };
    };

    const header = ctx.get('Authorization');
    const match = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/.exec(header);
    if (!match?.[1]) {
      // No credentials at all: a bare challenge (RFC 6750 section 3.1), no error code.
      if (!header) refuse(401, {}, 'an access token is required in the Authorization header');
      else refuse(401, { error: 'invalid_request' }, 'the Authorization header must be "Bearer <token>"');
      return;
    }
    const token = await options.verifier.verify(match[1]);
    if (!token || !token.aud.includes(options.audience)) {
      refuse(401, { error: 'invalid_token' }, 'the access token is invalid, expired, revoked or not meant for this API');
      return;
    }
    const granted = new Set(token.scope.split(' '));
    const missing = required.filter((scope) => !granted.has(scope));
    if (missing.length > 0) {
      refuse(403, { error: 'insufficient_scope', scope: required.join(' ') }, `this request needs the scope ${required.join(' ')}`);
      return;
    }
    ctx.state.accessToken = token;
    await next();
  };
}
