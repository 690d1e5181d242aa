import type { Context } from 'koa';

// "Start again" after an interaction expired. The interaction (and with it the client's
// authorization request) is gone by then, so the browser keeps the request it started
// from in a signed cookie; the error page links back to it and the engine validates it
// afresh. The client's own state and PKCE challenge are in it, so the client accepts
// the code that results.

const COOKIE = 'portcullis.restart';
const MAX_LENGTH = 3000; // cookies are small; a request this large gets no restart link

/** Parameters that cannot be replayed: a pushed request is single-use, a request object is too large. */
const UNREPEATABLE = new Set(['request', 'request_uri']);

export function rememberAuthorizationRequest(ctx: Context, authorizationPath: string, params: Record<string, unknown>): void {
  if (Object.keys(params).some((name) => UNREPEATABLE.has(name) && params[name] !== undefined)) return;
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    for (const item of Array.isArray(value) ? value : [value]) {
      if (typeof item === 'string' || typeof item === 'number') query.append(name, String(item));
    }
  }
  const url = `${authorizationPath}?${query.toString()}`;
  if (url.length > MAX_LENGTH) return;
  ctx.cookies.set(COOKIE, encodeURIComponent(url), {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: ctx.secure,
    signed: true,
    overwrite: true,
    maxAge: 24 * 3600 * 1000,
  });
}

/** The remembered request, only ever a path on our own authorization endpoint. */
export function restartUrl(ctx: Context, authorizationPath: string): string | undefined {
  const stored = ctx.cookies.get(COOKIE, { signed: true });
  if (!stored) return undefined;
  let url: string;
  try {
    url = decodeURIComponent(stored);
  } catch {
    return undefined;
  }
  return url.startsWith(`${authorizationPath}?`) ? url : undefined;
}
