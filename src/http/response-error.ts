import type { Context } from 'koa';

// The OAuth error a response carries, read from the response itself as it leaves, after
// everything that may still change it (the engine emits its error events before our
// extensions answer: a JWT introspection the engine refuses is then answered 200, a
// refresh inside the grace window too). The access log and the error metric both use this.

const ERROR_CODE = /^[a-z][a-z0-9_]{0,63}$/;
/** Where an error page records the code it shows (pages are HTML: the code is not in a field). */
export const PAGE_ERROR = Symbol('page error');

/** A bounded label: error codes are a fixed set of words; anything else is "other". */
export function errorLabel(code: unknown): string {
  return typeof code === 'string' && ERROR_CODE.test(code) ? code : 'other';
}

/** Records the code of the error page this response shows. */
export function markPageError(ctx: Pick<Context, 'state'>, code: string): void {
  (ctx.state as { [PAGE_ERROR]?: string })[PAGE_ERROR] = code;
}

function bodyError(ctx: Context): unknown {
  const body: unknown = ctx.body;
  if (body !== null && typeof body === 'object' && !Buffer.isBuffer(body) && 'error' in body) return body.error;
  // Some refusals (the rate limits) write their JSON as text.
  if (typeof body === 'string' && body.length < 4096 && body.startsWith('{') && ctx.response.is('json')) {
    try {
      return (JSON.parse(body) as { error?: unknown }).error;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/**
 * The error code of a final response: an error status with an `error` member (JSON) or an
 * error page; or a redirect of the engine's that returns an `error` to the client (an
 * authorization error at the redirect URI). Undefined for every successful response.
 */
export function responseError(ctx: Context, status: number): string | undefined {
  if (status >= 400) {
    const code = bodyError(ctx) ?? (ctx.state as { [PAGE_ERROR]?: string })[PAGE_ERROR];
    if (code !== undefined) return errorLabel(code);
    return status >= 500 ? 'server_error' : undefined;
  }
  const engineRoute = (ctx as { oidc?: { route?: unknown } }).oidc?.route;
  if (status >= 300 && status < 400 && typeof engineRoute === 'string') {
    const location = ctx.response.get('Location');
    const url = location && URL.parse(location);
    if (!url) return undefined;
    const code = url.searchParams.get('error') ?? new URLSearchParams(url.hash.slice(1)).get('error');
    return code === null ? undefined : errorLabel(code);
  }
  return undefined;
}
