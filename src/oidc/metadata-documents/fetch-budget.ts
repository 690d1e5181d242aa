import { LRUCache } from 'lru-cache';

// How many documents this instance fetches a minute: the fetches are made at an
// unauthenticated request's word (anyone can send any client_id), so without a budget our
// server would be anyone's fetcher of anyone's URLs. Three budgets:
// - per host (10): protects a third party's host from us;
// - in all (100): bounds this process's outgoing requests;
// - per requester address (20, and at most 5 of them on one host): so that one address
//   cannot spend the two shared budgets and lock everyone else out. The requester's budget
//   is asked first, and a fetch it refuses counts nowhere else: the host's and the whole
//   budget only ever count fetches of requesters within their own. One address thus spends
//   at most half of a host's minute and a fifth of the whole; locking a host out takes two
//   addresses, and everything five.
// Counted per instance, in memory. Before any of this the caller runs every check that
// needs no network (the URL rules, the address-literal guard, remembered refusals): those
// cost nothing, so they spend nothing.

const WINDOW_MS = 60_000;
export const FETCHES_PER_HOST = 10;
export const FETCHES_IN_ALL = 100;
export const FETCHES_PER_REQUESTER = 20;
export const FETCHES_PER_REQUESTER_AND_HOST = 5;

interface Window {
  count: number;
  readonly startedAt: number;
}

/** Which budget refused: the requester's own, the host's, or the whole instance's. */
export type BudgetRefusal = 'requester' | 'host' | 'all';

export interface FetchBudget {
  /** Spends one fetch for the host at the requester's word; the budget that refuses, or undefined when spent. */
  take(host: string, requester: string): BudgetRefusal | undefined;
}

export interface BudgetLimits {
  perHost?: number;
  inAll?: number;
  perRequester?: number;
  perRequesterAndHost?: number;
}

export function createFetchBudget(limits: BudgetLimits = {}, now: () => number = Date.now): FetchBudget {
  const perHost = limits.perHost ?? FETCHES_PER_HOST;
  const inAll = limits.inAll ?? FETCHES_IN_ALL;
  const perRequester = limits.perRequester ?? FETCHES_PER_REQUESTER;
  const perRequesterAndHost = limits.perRequesterAndHost ?? FETCHES_PER_REQUESTER_AND_HOST;
  // Bounded: host names and (behind a trusted proxy) addresses are the attacker's to choose.
  const windows = new LRUCache<string, Window>({ max: 30_000 });
  let all: Window = { count: 0, startedAt: now() };
  const current = (window: Window | undefined): Window => (window && now() - window.startedAt < WINDOW_MS ? window : { count: 0, startedAt: now() });
  return {
    take(host, requester) {
      all = current(all);
      // Keys that cannot collide: a host never contains a space.
      const keys = { host: `host ${host}`, requester: `requester ${requester}`, pair: `pair ${requester} ${host}` };
      const hostWindow = current(windows.get(keys.host));
      const requesterWindow = current(windows.get(keys.requester));
      const pairWindow = current(windows.get(keys.pair));
      if (requesterWindow.count >= perRequester || pairWindow.count >= perRequesterAndHost) return 'requester';
      if (hostWindow.count >= perHost) return 'host';
      if (all.count >= inAll) return 'all';
      all.count++;
      for (const [key, window] of [
        [keys.host, hostWindow],
        [keys.requester, requesterWindow],
        [keys.pair, pairWindow],
      ] as const) {
        window.count++;
        windows.set(key, window);
      }
      return undefined;
    },
  };
}
