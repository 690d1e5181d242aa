import { parse as parseQuery, type ParsedUrlQuery } from 'node:querystring';

import { decodeJwt } from 'jose';
import type { Context } from 'koa';

import { peekBody } from './peek-form-body.ts';

// The client a request claims to be at an endpoint where clients authenticate, read once
// per request and kept in ctx.state for the repeat-refusal gate, the client-secret
// throttle and the client budget. Read exactly as the engine reads it
// (oidc-provider lib/shared/client_auth.js), so that what we count as an attempt at a
// client's credential is what the engine checks as one:
// - HTTP Basic (client_secret_basic): "Basic" and one base64 token, strictly valid; id and
//   secret form-decoded ("+" is a space) and visible ASCII only; a non-empty secret.
// - the form body, when there is no Authorization header: `client_secret` with
//   `client_id` (client_secret_post), or a `client_assertion` JWT of the jwt-bearer type
//   whose `sub` is the client (private_key_jwt, client_secret_jwt).
// Anything the engine refuses before it looks at a credential (400 invalid_request) is
// `malformed`: no client's count or budget is touched by it, only the address's.

export type ClientClaim =
  /** No credential presented (a public client names itself, or nobody does). */
  | { readonly kind: 'none' }
  /** Refused by the engine before any credential is checked. */
  | { readonly kind: 'malformed' }
  | { readonly kind: 'credential'; readonly clientId: string; readonly method: 'basic' | 'post' | 'jwt' };

const NONE: ClientClaim = { kind: 'none' };
const MALFORMED: ClientClaim = { kind: 'malformed' };
const CLAIM = Symbol('portcullis.clientClaim');
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** Anything outside visible ASCII and space (the engine's noVSCHAR). */
const NOT_VSCHAR = /[^\x20-\x7E]/;
/** The engine reads at most 56 kB of a body. */
const MAX_BODY = 56 * 1024;

function isValidBase64(input: string): boolean {
  const match = /^([A-Za-z0-9+/]*)(={0,2})$/.exec(input);
  const [, data = '', padding = ''] = match ?? [];
  if (!data) return false;
  const remainder = data.length % 4;
  if (!padding) return remainder !== 1;
  return (data.length + padding.length) % 4 === 0 && padding.length === 4 - remainder;
}

function decodeToken(token: string): string | undefined {
  try {
    const decoded = decodeURIComponent(token.replace(/\+/g, '%20'));
    return NOT_VSCHAR.test(decoded) ? undefined : decoded;
  } catch {
    return undefined;
  }
}

/** An Authorization header as the engine reads it. */
export function parseBasic(authorization: string): ClientClaim {
  const parts = authorization.split(' ');
  if (parts.length !== 2 || parts[0]!.toLowerCase() !== 'basic' || !isValidBase64(parts[1]!)) return MALFORMED;
  const decoded = Buffer.from(parts[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) return MALFORMED;
  const clientId = decodeToken(decoded.slice(0, colon));
  const secret = decodeToken(decoded.slice(colon + 1));
  if (!clientId || !secret) return MALFORMED;
  return { kind: 'credential', clientId, method: 'basic' };
}

/** A form body (no Authorization header) as the engine reads it. */
export function parseFormClaim(body: ParsedUrlQuery): ClientClaim {
  const fields = ['client_id', 'client_secret', 'client_assertion', 'client_assertion_type'] as const;
  // The engine refuses these parameters sent twice before it looks at them.
  if (fields.some((field) => Array.isArray(body[field]))) return MALFORMED;
  const [clientId, secret, assertion, assertionType] = fields.map((field) => body[field] as string | undefined);
  if (secret && assertion) return MALFORMED;
  if (assertion !== undefined) {
    let sub: unknown;
    try {
      sub = decodeJwt(assertion).sub;
    } catch {
      return MALFORMED;
    }
    if (typeof sub !== 'string' || !sub || assertionType !== JWT_BEARER) return MALFORMED;
    if (clientId !== undefined && clientId !== sub) return MALFORMED;
    return { kind: 'credential', clientId: sub, method: 'jwt' };
  }
  if (secret) return clientId ? { kind: 'credential', clientId, method: 'post' } : MALFORMED;
  return NONE;
}

function stored(ctx: Context): { [CLAIM]?: ClientClaim } {
  return ctx.state;
}

/**
 * The claim of the Authorization header alone (no body is read): for the repeat-refusal
 * gate, which answers before anything else. Kept for the rest of the request.
 */
export function headerClaim(ctx: Context): ClientClaim | undefined {
  const authorization = ctx.headers.authorization;
  if (authorization === undefined) return undefined;
  return (stored(ctx)[CLAIM] ??= parseBasic(authorization));
}

/** The claim of this request, read once: the Authorization header, else the form body. */
export async function readClientClaim(ctx: Context): Promise<ClientClaim> {
  const state = stored(ctx);
  if (state[CLAIM]) return state[CLAIM];
  const fromHeader = headerClaim(ctx);
  if (fromHeader) return fromHeader;
  let claim = NONE;
  const hasBody = ctx.request.length > 0 || ctx.get('Transfer-Encoding') !== '';
  if (ctx.method === 'POST' && hasBody && ctx.is('application/x-www-form-urlencoded')) {
    const body = await peekBody(ctx.req, MAX_BODY);
    claim = body ? parseFormClaim(parseQuery(body.toString('utf8'))) : MALFORMED;
  }
  return (state[CLAIM] = claim);
}

/** The claim already read for this request (readClientClaim ran earlier in the chain). */
export function currentClaim(ctx: Context): ClientClaim | undefined {
  return stored(ctx)[CLAIM];
}
