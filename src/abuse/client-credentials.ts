import type { Context } from 'koa';

// The client a request claims to be, read once per request and kept in ctx.state: the
// repeat-refusal gate, the client-secret throttle and the client budget all ask for it.

const CLAIM = Symbol('portcullis.claimedClient');

/**
 * The client id an HTTP Basic Authorization header names (RFC 6749 2.3.1: form-encoded
 * before base64), without checking the secret. Undefined when there is no such header or
 * it is malformed. Bounded: ids longer than registry ids are not ids.
 */
export function basicClientId(authorization: string): string | undefined {
  if (authorization.length > 4096 || !/^basic /i.test(authorization)) return undefined;
  const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  let id: string;
  try {
    id = decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
  return id.length > 0 && id.length <= 200 ? id : undefined;
}

/** The client id this request's Basic header claims (parsed on the first call only). */
export function claimedClientId(ctx: Context): string | undefined {
  const state = ctx.state as { [CLAIM]?: { id: string | undefined } };
  return (state[CLAIM] ??= { id: basicClientId(ctx.get('Authorization')) }).id;
}
