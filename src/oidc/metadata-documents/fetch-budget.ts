import { LRUCache } from 'lru-cache';

// How many documents this instance fetches a minute, per host and in all: the fetches are
// made at an unauthenticated request's word (anyone can send any client_id), so without a
// budget our server would be anyone's fetcher of anyone's URLs. Counted per instance, in
// memory: the budget bounds this process's outgoing requests, which is what it protects.

const WINDOW_MS = 60_000;
export const FETCHES_PER_HOST = 10;
export const FETCHES_IN_ALL = 100;

interface Window {
  count: number;
  readonly startedAt: number;
}

export interface FetchBudget {
  /** Spends one fetch for the host; false when its budget, or the whole budget, is spent for this minute. */
  take(host: string): boolean;
}

export function createFetchBudget(limits: { perHost?: number; inAll?: number } = {}, now: () => number = Date.now): FetchBudget {
  const perHost = limits.perHost ?? FETCHES_PER_HOST;
  const inAll = limits.inAll ?? FETCHES_IN_ALL;
  // Bounded: host names are the attacker's to choose.
  const hosts = new LRUCache<string, Window>({ max: 10_000 });
  let all: Window = { count: 0, startedAt: now() };
  const current = (window: Window | undefined): Window => (window && now() - window.startedAt < WINDOW_MS ? window : { count: 0, startedAt: now() });
  return {
    take(host) {
      all = current(all);
      const hostWindow = current(hosts.get(host));
      if (all.count >= inAll || hostWindow.count >= perHost) return false;
      all.count++;
      hostWindow.count++;
      hosts.set(host, hostWindow);
      return true;
    },
  };
}
