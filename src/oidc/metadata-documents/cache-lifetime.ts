import CachePolicy from 'http-cache-semantics';

// How long a fetched document is kept: what its own caching headers say (Cache-Control
// max-age and no-store, Expires, Age), read by http-cache-semantics as a private cache
// reads them (a document is ours alone, not a shared proxy's), then held between a floor
// and a ceiling. The floor keeps a document that asks for a second's caching from making
// every request a fetch; the ceiling lets a changed document (a redirect URI withdrawn)
// take effect within a day. The floor holds for a document that may not be stored
// (no-store) as well, as in the engine's own implementation of the draft: one sign-in asks
// for its client some seven times (authorization, interaction pages, token, refresh), and
// each a fetch would spend the host's budget on one person. Headers nobody can read (one
// sent twice, which undici gives as an array; anything http-cache-semantics throws at)
// are the floor too.

export const MIN_CACHE_SECONDS = 60;
export const MAX_CACHE_SECONDS = 24 * 3600;

/** Milliseconds to keep the document: never less than the floor. */
export function cacheLifetimeMs(url: string, status: number, headers: Readonly<Record<string, string | string[] | undefined>>): number {
  // A header sent twice is one list (RFC 9110 section 5.3), as http-cache-semantics expects it.
  const joined = Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(', ') : value]));
  let ttl: number;
  try {
    const policy = new CachePolicy({ url, method: 'GET', headers: { accept: 'application/json' } }, { status, headers: joined }, { shared: false });
    ttl = policy.storable() ? policy.timeToLive() : 0;
  } catch {
    ttl = 0;
  }
  if (!Number.isFinite(ttl)) ttl = 0;
  return Math.min(MAX_CACHE_SECONDS * 1000, Math.max(MIN_CACHE_SECONDS * 1000, ttl));
}
