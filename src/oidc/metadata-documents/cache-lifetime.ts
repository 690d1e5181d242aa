import CachePolicy from 'http-cache-semantics';

// How long a fetched document is kept: what its own caching headers say (Cache-Control
// max-age and no-store, Expires, Age), read by http-cache-semantics as a private cache
// reads them (a document is ours alone, not a shared proxy's), then held between a floor
// and a ceiling. The floor keeps a document that asks for a second's caching from making
// every request a fetch; the ceiling lets a changed document (a redirect URI withdrawn)
// take effect within a day. A document that may not be stored (no-store) is fetched again
// every time it is needed: the fetch budget still bounds how often.

export const MIN_CACHE_SECONDS = 60;
export const MAX_CACHE_SECONDS = 24 * 3600;

/** Milliseconds to keep the document; 0 when it may not be stored. */
export function cacheLifetimeMs(url: string, status: number, headers: Readonly<Record<string, string | string[] | undefined>>): number {
  const policy = new CachePolicy({ url, method: 'GET', headers: { accept: 'application/json' } }, { status, headers }, { shared: false });
  if (!policy.storable()) return 0;
  const ttl = policy.timeToLive();
  return Math.min(MAX_CACHE_SECONDS * 1000, Math.max(MIN_CACHE_SECONDS * 1000, ttl));
}
