/**
 * A request's path as the routers match it, for everything that decides by path before a
 * router has run (budgets, throttles, body rules, CORS): ASCII letters in one case and
 * without one trailing slash. The engine's router folds paths to upper case and retries
 * without a trailing slash; @koa/router matches case-insensitively and non-strictly. Compared
 * exactly instead, `/TOKEN` or `/token/` reached the token endpoint without its budget or
 * the client-secret throttle.
 *
 * Only ASCII is folded, as both routers do: no other letter's case mapping yields an ASCII
 * one there (the Kelvin sign is not `k`), so none may here.
 */
export function routedPath(path: string): string {
  const trimmed = path.length > 1 && path.charCodeAt(path.length - 1) === 0x2f ? path.slice(0, -1) : path;
  return /[A-Z]/.test(trimmed) ? trimmed.replace(/[A-Z]/g, (letter) => letter.toLowerCase()) : trimmed;
}
