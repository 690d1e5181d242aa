// The two kinds of count the credential throttle keeps, as pure rules over a stored state.
// The memory store runs these functions; the Redis store runs the same rules in Lua
// (credential-throttle-redis.ts). One contract suite checks both.
//
// - A ladder counts failures of one key (an account from one address, an address, a
//   trusted device): the first `free` cost nothing, then each attempt must wait 1 s, 2 s,
//   4 s ... (up to `maxDelayMs`) after the last failure, and at `blockAfter` the key is
//   blocked for `windowMs`. Failures are forgotten `windowMs` after the last one.
// - A pace is a token bucket in its GCRA form: `burst` failures at once, then one per
//   `intervalMs`, on a schedule that does not move with the attempts (a theoretical arrival
//   time `t`), so whoever waits the interval it was told finds the next slot there unless
//   someone took it first; nobody can push the wait out by guessing.
//
// Both also count attempts in flight (`p`, reserved and not yet settled). An attempt that
// the policy would allow only if none of those in flight failed is `busy`: it waits for
// them to settle and asks again, so a concurrent burst gets exactly the checks that the
// same attempts one after another would get, and a burst of right credentials only
// queues briefly. A lost reservation (a process that died mid-check) is forgotten
// `leaseMs` after the last reservation of its key.

export interface LadderRule {
  readonly kind: 'ladder';
  readonly free: number;
  readonly blockAfter: number;
  readonly maxDelayMs: number;
  readonly windowMs: number;
}

export interface PaceRule {
  readonly kind: 'pace';
  readonly intervalMs: number;
  readonly burst: number;
}

export type CounterRule = LadderRule | PaceRule;

/** In flight: attempts reserved and not settled, forgotten at `e` (epoch ms). */
interface InFlight {
  readonly p: number;
  readonly e: number;
}

/** A ladder's state: failures, and when the last one was counted (epoch ms). */
export interface LadderState extends InFlight {
  readonly f: number;
  readonly l: number;
}

/** A pace's state: the theoretical arrival time of the next failure (epoch ms). */
export interface PaceState extends InFlight {
  readonly t: number;
}

export type CounterState = LadderState | PaceState;

export type Judgement =
  | { readonly verdict: 'allowed'; readonly count: number }
  | { readonly verdict: 'busy' }
  | { readonly verdict: 'refused'; readonly blocked: boolean; readonly retryMs: number };

export type Settlement = 'failed' | 'succeeded' | 'released';

/** A stored state and how long to keep it (undefined: nothing worth keeping). */
export type Kept = { readonly state: CounterState; readonly ttlMs: number } | undefined;

/** How long an attempt may stay in flight before its reservation is forgotten. */
export const LEASE_MS = 30_000;

/** Milliseconds to wait after the `beyond`-th failure past the free ones (1 s, 2 s, 4 s ...). */
export function delayMs(beyond: number, maxDelayMs: number): number {
  if (beyond <= 0) return 0;
  return Math.min(1000 * 2 ** Math.min(beyond - 1, 30), maxDelayMs);
}

function inFlight(state: InFlight | undefined, now: number): number {
  return state && state.e > now ? state.p : 0;
}

function failures(rule: LadderRule, state: LadderState | undefined, now: number): number {
  return state && state.l + rule.windowMs > now ? state.f : 0;
}

function judgeLadder(rule: LadderRule, state: LadderState | undefined, now: number, exempt: boolean): Judgement {
  const f = failures(rule, state, now);
  const l = state?.l ?? 0;
  if (f >= rule.blockAfter) return { verdict: 'refused', blocked: true, retryMs: l + rule.windowMs - now };
  const wait = f >= rule.free ? l + delayMs(f - rule.free + 1, rule.maxDelayMs) - now : 0;
  if (wait > 0) return { verdict: 'refused', blocked: false, retryMs: wait };
  const p = exempt ? 0 : inFlight(state, now);
  if (p > 0 && f + p >= rule.free) return { verdict: 'busy' };
  return { verdict: 'allowed', count: f + p + 1 };
}

function judgePace(rule: PaceRule, state: PaceState | undefined, now: number): Judgement {
  const capacity = Math.max(1, rule.burst) * rule.intervalMs;
  const base = Math.max(state?.t ?? 0, now);
  const over = base + rule.intervalMs - now - capacity;
  if (over > 0) return { verdict: 'refused', blocked: false, retryMs: over };
  const p = inFlight(state, now);
  if (p > 0 && over + p * rule.intervalMs > 0) return { verdict: 'busy' };
  return { verdict: 'allowed', count: 0 };
}

/**
 * Whether one more attempt may go ahead under `rule`. `exempt`: attempts in flight do not
 * hold this one back (a client's own servers, see credential-throttle.ts).
 */
export function judge(rule: CounterRule, state: CounterState | undefined, now: number, exempt = false): Judgement {
  return rule.kind === 'ladder' ? judgeLadder(rule, state as LadderState | undefined, now, exempt) : judgePace(rule, state as PaceState | undefined, now);
}

/** The state after reserving one attempt (counted in flight unless `exempt`). */
export function reserved(rule: CounterRule, state: CounterState | undefined, now: number, exempt: boolean): Kept {
  if (exempt) return undefined;
  const p = inFlight(state, now) + 1;
  const e = now + LEASE_MS;
  if (rule.kind === 'ladder') {
    const f = failures(rule, state as LadderState | undefined, now);
    const l = f > 0 ? (state as LadderState).l : 0;
    return { state: { f, l, p, e }, ttlMs: Math.max(LEASE_MS, f > 0 ? l + rule.windowMs - now : 0) };
  }
  const t = (state as PaceState | undefined)?.t ?? 0;
  return { state: { t, p, e }, ttlMs: Math.max(LEASE_MS, t - now) };
}

/**
 * The state after settling one attempt: out of flight (if it was counted there); a failure
 * counts (a ladder's count and time, a pace's next slot); a success starts a ladder over
 * when `clear`.
 */
export function settled(rule: CounterRule, state: CounterState | undefined, now: number, pending: boolean, outcome: Settlement, clear: boolean): Kept {
  const p = Math.max(0, inFlight(state, now) - (pending ? 1 : 0));
  const e = p > 0 ? state!.e : 0;
  if (rule.kind === 'ladder') {
    let f = failures(rule, state as LadderState | undefined, now);
    let l = f > 0 ? (state as LadderState).l : 0;
    if (outcome === 'failed') [f, l] = [f + 1, now];
    else if (outcome === 'succeeded' && clear) [f, l] = [0, 0];
    const ttlMs = Math.max(f > 0 ? l + rule.windowMs - now : 0, e - now);
    return ttlMs > 0 ? { state: { f, l, p, e }, ttlMs } : undefined;
  }
  let t = (state as PaceState | undefined)?.t ?? 0;
  if (outcome === 'failed') t = Math.max(t, now) + rule.intervalMs;
  const ttlMs = Math.max(t - now, e - now);
  return ttlMs > 0 ? { state: { t, p, e }, ttlMs } : undefined;
}

/** A ladder state that is a block: kept apart from ordinary counts in memory. */
export function isBlock(rule: CounterRule, state: CounterState): boolean {
  return rule.kind === 'ladder' && (state as LadderState).f >= rule.blockAfter;
}

/** A ladder's failures after settling (for block events); 0 for a pace. */
export function failuresOf(rule: CounterRule, kept: Kept): number {
  return rule.kind === 'ladder' && kept ? (kept.state as LadderState).f : 0;
}
