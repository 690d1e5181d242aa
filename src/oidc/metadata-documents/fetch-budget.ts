import ipaddr from 'ipaddr.js';
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
// A requester is its IPv4 address, or its IPv6 /64 (one host usually holds a whole /64: per
// address, one machine would have endless budgets). A look-up with no request behind it
// (the interaction pages load the client outside the engine's request) spends the host's and
// the whole budget only: the /auth that started the interaction spent the requester's.
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
  take(host: string, requester: string | undefined): BudgetRefusal | undefined;
}

/** The budget's name for a requester address: IPv4 as it is, IPv6 by its /64. */
export function requesterKey(address: string): string {
  if (!ipaddr.isValid(address)) return address;
  const parsed = ipaddr.process(address);
  if (parsed.kind() === 'ipv4') return parsed.toString();
  return `${(parsed as ipaddr.IPv6).parts.slice(0, 4).map((part) => part.toString(16)).join(':')}::/64`;
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
      const hostWindow = current(windows.get(`host ${host}`));
      const counted: [string, Window][] = [[`host ${host}`, hostWindow]];
      if (requester !== undefined) {
        const key = requesterKey(requester);
        const requesterWindow = current(windows.get(`requester ${key}`));
        const pairWindow = current(windows.get(`pair ${key} ${host}`));
        if (requesterWindow.count >= perRequester || pairWindow.count >= perRequesterAndHost) return 'requester';
        counted.push([`requester ${key}`, requesterWindow], [`pair ${key} ${host}`, pairWindow]);
      }
      if (hostWindow.count >= perHost) return 'host';
      if (all.count >= inAll) return 'all';
      all.count++;
      for (const [key, window] of counted) {
        window.count++;
        windows.set(key, window);
      }
      return undefined;
    },
  };
}
