import { createHash } from 'node:crypto';

import type { AuthThrottleConfig } from '../config/index.ts';
import { addressKey } from './address-key.ts';
import { setTimeout as sleep } from 'node:timers/promises';

import type { Counter, CounterOutcome, ThrottleStore } from './credential-throttle-store.ts';
import type { CounterRule, Settlement } from './throttle-rules.ts';
import { releasedKeys, type ReleaseFeed } from './throttle-releases.ts';

// Password (and client secret) guessing, slowed without letting anyone lock the owner out.
// Used twice: for passwords at the login form (login-throttle.ts) and for client secrets at
// the engine's endpoints (client-authentication.ts).
//
// Every attempt is reserved before the credential is checked, atomically, so a concurrent
// burst gets no more checks than attempts one after another would: an attempt that could
// be refused if those in flight failed waits for them to settle (throttle-rules.ts), up to
// `holdMs`. Settling counts a wrong credential as a failure, gives a right one back (and
// starts its pair over), and gives back an attempt never checked. An attempt the throttle
// refuses is not counted at all: it cost nobody anything, and a correct password is never
// a failure.
//
// The counts (rules in throttle-rules.ts):
// - subject + address (ladder): after `freeFailures`, each try must wait 1 s, 2 s, 4 s ...
//   up to `maxDelay` after the last one; `blockAfter` failures block that address for that
//   subject for `window`.
// - address (ladder): the same with `ipFreeFailures` / `ipBlockAfter`, across subjects.
// - subject, across addresses (pace): `subjectFreeFailures` attempts, then one per
//   `subjectInterval` on a fixed schedule, for addresses and devices the subject never
//   succeeded from. A new device of the owner waits at most one interval for a free slot,
//   and guessing cannot push that wait out; never a block.
// - trusted device (ladder): a browser carrying the signed device cookie of an earlier
//   success for this subject skips the three counts above (so a block aimed at a shared
//   address does not stop it), and has a small count of its own instead (`freeFailures`,
//   `blockAfter`), so a stolen cookie is no unthrottled oracle.
// An address that succeeded for the subject in the last 90 days skips the subject's pace.
// With `concurrentWhenTrusted` (client secrets) its attempts in flight are not held back
// either: a client's own servers authenticate in parallel; people at a login form do not,
// so logins stay strict.

export interface AuthAttempt {
  /** Whose credentials: an email as typed, or a client id. Normalised and hashed before use. */
  readonly subject: string;
  /** The client's address (ctx.ip); IPv6 counts per /64 (address-key.ts). */
  readonly ip: string;
  /** A device id from the device cookie, when the browser has one. */
  readonly device?: string | undefined;
}

export type BlockScope = 'pair' | 'ip' | 'device';
export type RefusalScope = BlockScope | 'subject';

/** An attempt let through, held until the check settles it (exactly once; later calls do nothing). */
export interface Reservation {
  /** The credentials were wrong (or the subject unknown): the attempt stays counted. */
  failed(): Promise<void>;
  /** Right: given back, the pair (or device) starts over, the address and `device` become trusted. */
  succeeded(trust?: { readonly device?: string | undefined }): Promise<void>;
  /** Never checked (the request failed first): given back. */
  released(): Promise<void>;
}

export type AttemptVerdict =
  | { readonly allowed: true; readonly reservation: Reservation }
  | {
      readonly allowed: false;
      /** Which count refused it. */
      readonly scope: RefusalScope;
      /** A block (until the window passes) rather than a wait before the next try. */
      readonly blocked: boolean;
      readonly retryAfterSeconds: number;
    };

export interface CredentialThrottle {
  /** Before any credential is checked: reserves the attempt, or refuses it uncounted. */
  reserve(attempt: AuthAttempt): Promise<AttemptVerdict>;
}

export interface CredentialThrottleOptions {
  readonly policy: AuthThrottleConfig;
  readonly store: ThrottleStore;
  /** Separates the counts of different credentials: `login`, `client`. */
  readonly namespace: string;
  /** Called once when a pair, an address or a device becomes blocked (an audit event). */
  readonly onBlocked?: (attempt: AuthAttempt, block: { scope: BlockScope; failures: number; seconds: number }) => void;
  /** The store failed: the attempt goes ahead (the throttle fails open) and this is told. */
  readonly onStoreError?: (error: unknown) => void;
  /** A client's own servers (trusted addresses) are not held back by their attempts in flight. */
  readonly concurrentWhenTrusted?: boolean;
  /** How long an attempt may wait for those in flight to settle before it is refused (ms). */
  readonly holdMs?: number;
  /** Operators' releases of blocks (`portcullis users unblock`), applied before an attempt is refused. */
  readonly releases?: ReleaseFeed | undefined;
  readonly now?: () => number;
}

/** How long an address or device stays trusted for a subject after a success. */
export const TRUST_MS = 90 * 24 * 3600 * 1000;

const hash = (value: string) => createHash('sha256').update(value).digest('base64url').slice(0, 22);
/** How a subject is keyed: "Ann@Example.com " and "ann@example.com" are one account (normalize-email.ts). */
const subjectHash = (subject: string) => hash(subject.normalize('NFKC').trim().toLowerCase());

/** The four counts, in the order they are judged. */
const SCOPES = ['pair', 'ip', 'subject', 'device'] as const;

function rulesOf(policy: AuthThrottleConfig) {
  const windowMs = policy.window * 1000;
  const maxDelayMs = policy.maxDelay * 1000;
  return {
    pair: { kind: 'ladder', free: policy.freeFailures, blockAfter: policy.blockAfter, maxDelayMs, windowMs },
    ip: { kind: 'ladder', free: policy.ipFreeFailures, blockAfter: policy.ipBlockAfter, maxDelayMs, windowMs },
    subject: { kind: 'pace', intervalMs: policy.subjectInterval * 1000, burst: policy.subjectFreeFailures },
    device: { kind: 'ladder', free: policy.freeFailures, blockAfter: policy.blockAfter, maxDelayMs, windowMs },
  } as const satisfies Record<RefusalScope, CounterRule>;
}

/** Where an attempt's counts and trust flags live (hashed: no email or device id is stored). */
function keysOf(ns: string, rules: ReturnType<typeof rulesOf>, attempt: AuthAttempt) {
  const subject = subjectHash(attempt.subject);
  const address = addressKey(attempt.ip) || 'unknown';
  const device = attempt.device ? hash(attempt.device) : undefined;
  return {
    counters: [
      { key: `${ns}:p:${subject}:${address}`, rule: rules.pair, applies: 'untrusted-device' },
      { key: `${ns}:i:${address}`, rule: rules.ip, applies: 'untrusted-device' },
      { key: `${ns}:s:${subject}`, rule: rules.subject, applies: 'untrusted' },
      { key: `${ns}:v:${subject}:${device ?? '-'}`, rule: rules.device, applies: 'trusted-device' },
    ] satisfies Counter[],
    trustedAddress: `${ns}:t:${subject}:${address}`,
    trustedDevice: (id: string | undefined) => (id ? `${ns}:d:${subject}:${hash(id)}` : undefined),
  };
}

type Keys = ReturnType<typeof keysOf>;
type Held = Keys['counters'][number] & { readonly scope: RefusalScope; readonly pending: boolean };

/** The verdict for what the store answered: the strictest refusal, a moment's wait, or a go. */
function verdictOf(outcomes: readonly CounterOutcome[], busy: number): Extract<AttemptVerdict, { allowed: false }> | undefined {
  const refusals = outcomes.flatMap((outcome, index) => (outcome.status === 'refused' ? [{ scope: SCOPES[index]!, ...outcome }] : []));
  if (refusals.length > 0) {
    const strictest = refusals.find((r) => r.blocked) ?? refusals.reduce((a, b) => (b.retryMs > a.retryMs ? b : a));
    return { allowed: false, scope: strictest.scope, blocked: strictest.blocked, retryAfterSeconds: Math.max(1, Math.ceil(strictest.retryMs / 1000)) };
  }
  // Still held back by attempts in flight after waiting: try again in a moment.
  return busy >= 0 ? { allowed: false, scope: SCOPES[busy]!, blocked: false, retryAfterSeconds: 1 } : undefined;
}

export function createCredentialThrottle(options: CredentialThrottleOptions): CredentialThrottle {
  const { policy, store } = options;
  const now = options.now ?? Date.now;
  const rules = rulesOf(policy);

  async function guarded<T>(fallback: T, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      options.onStoreError?.(error);
      return fallback;
    }
  }

  const unthrottled: AttemptVerdict = { allowed: true, reservation: { failed: () => Promise.resolve(), succeeded: () => Promise.resolve(), released: () => Promise.resolve() } };

  /** Reserves, waiting (briefly, with backoff) while only attempts in flight stand in the way. */
  async function reserveCounts(attempt: AuthAttempt, k: Keys) {
    const deadline = Date.now() + (options.holdMs ?? 2_000);
    for (let pause = 5; ; pause = Math.min(pause * 2, 50)) {
      const result = await store.reserve({
        now: now(),
        trustedAddressKey: k.trustedAddress,
        trustedDeviceKey: k.trustedDevice(attempt.device),
        concurrentWhenTrusted: options.concurrentWhenTrusted ?? false,
        counters: k.counters,
      });
      const busy = result.outcomes.findIndex((outcome) => outcome.status === 'busy');
      const refused = result.outcomes.some((outcome) => outcome.status === 'refused');
      if (busy < 0 || refused || Date.now() + pause > deadline) return { outcomes: result.outcomes, busy };
      await sleep(pause * (0.5 + Math.random()));
    }
  }

  /** Settles once: what the store must count, and the block events a failure causes. */
  function reservation(attempt: AuthAttempt, k: Keys, held: readonly Held[]): Reservation {
    let done = false;
    const settle = (outcome: Settlement, trust: string[]) => {
      if (done) return Promise.resolve();
      done = true;
      return guarded(undefined, async () => {
        const failures = await store.settle({
          now: now(),
          // A success starts the pair and the device over; anything else only settles its own attempt.
          counters: held.map(({ key, rule, scope, pending }) => ({ key, rule, pending, outcome, clear: scope === 'pair' || scope === 'device' })),
          trust,
          trustMs: TRUST_MS,
        });
        if (outcome !== 'failed') return;
        held.forEach(({ scope, rule }, index) => {
          // Failures grow by one per settled attempt, so a count equal to its threshold has just crossed it.
          if (rule.kind === 'ladder' && scope !== 'subject' && failures[index] === rule.blockAfter) {
            options.onBlocked?.(attempt, { scope, failures: rule.blockAfter, seconds: policy.window });
          }
        });
      });
    };
    return {
      failed: () => settle('failed', []),
      succeeded: (trust = {}) => settle('succeeded', [k.trustedAddress, k.trustedDevice(trust.device ?? attempt.device)].filter((key): key is string => key !== undefined)),
      released: () => settle('released', []),
    };
  }

  /**
   * Lifts what operators released since the last look; whether anything was. Each release
   * once per store (instances sharing Redis apply it once between them). If the releases
   * cannot be read, the refusal stands: a database in trouble never lets a blocked guesser in.
   */
  async function applyReleases(): Promise<boolean> {
    try {
      const released = (await options.releases?.pull()) ?? [];
      for (const release of released) {
        const selection = releasedKeys(options.namespace, { subjectHash: release.subject ? subjectHash(release.subject) : undefined, address: release.address });
        await store.release(selection, { key: `${options.namespace}:rel:${release.id}`, keepMs: policy.window * 1000 });
      }
      return released.length > 0;
    } catch (error) {
      options.onStoreError?.(error);
      return false;
    }
  }

  return {
    reserve: (attempt) =>
      guarded<AttemptVerdict>(unthrottled, async () => {
        const k = keysOf(options.namespace, rules, attempt);
        let { outcomes, busy } = await reserveCounts(attempt, k);
        let refused = verdictOf(outcomes, busy);
        // About to refuse: an operator may have lifted this block since (judged once more if so).
        if (refused && (await applyReleases())) {
          ({ outcomes, busy } = await reserveCounts(attempt, k));
          refused = verdictOf(outcomes, busy);
        }
        if (refused) return refused;
        const held = k.counters.flatMap((counter, index): Held[] => {
          const outcome = outcomes[index]!;
          return outcome.status === 'reserved' ? [{ ...counter, scope: SCOPES[index]!, pending: outcome.pending }] : [];
        });
        return { allowed: true, reservation: reservation(attempt, k, held) };
      }),
  };
}
