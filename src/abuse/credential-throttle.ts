import { createHash } from 'node:crypto';

import type { AuthThrottleConfig } from '../config/index.ts';
import { addressKey } from './address-key.ts';

// Password (and client secret) guessing, slowed without letting anyone lock the owner out.
//
// Failures are counted per subject-and-address (an account's email, or a client id, from one
// IP), per address across subjects, and per subject across addresses:
//
// - subject + address: after `freeFailures`, each retry must wait 1 s, 2 s, 4 s ... up to
//   `maxDelay`; `blockAfter` failures (a retry sent before its wait is over counts as one,
//   refused without checking the password) block that address for that subject for `window`.
// - address: the same with `ipFreeFailures` / `ipBlockAfter`, across every subject, against
//   one address spraying many accounts.
// - subject, across every address: after `subjectFreeFailures`, attempts from addresses and
//   devices the subject never succeeded from must wait between tries (the same doubling).
//   Never a block: the owner's own address or device (a success in the last 90 days, or a
//   device cookie from one) is not slowed at all, whatever happens elsewhere.
//
// Used twice: for passwords at the login form (login-throttle.ts) and for client secrets at
// the engine's endpoints (client-authentication.ts).
//
// Checks happen before the password is hashed or the database asked; a refused attempt
// costs a few store reads. Failures are forgotten `window` seconds after the last one.

export interface AuthAttempt {
  /** Whose credentials: an email as typed, or a client id. Normalised and hashed before use. */
  readonly subject: string;
  /** The client's address (ctx.ip); IPv6 counts per /64 (address-key.ts). */
  readonly ip: string;
  /** A device id from the device cookie, when the browser has one. */
  readonly device?: string | undefined;
}

export type BlockScope = 'pair' | 'ip';

export type ThrottleVerdict =
  | {
      readonly allowed: true;
      /** A trusted address or device with no failures pending: a success changes nothing. */
      readonly known: boolean;
    }
  | {
      readonly allowed: false;
      /** Which count refused it: this address for this subject, this address, or this subject. */
      readonly scope: BlockScope | 'subject';
      /** A block (until the window passes) rather than a wait before the next try. */
      readonly blocked: boolean;
      readonly retryAfterSeconds: number;
    };

export interface ThrottleRecord {
  readonly failures: number;
  /** Epoch milliseconds of the last counted failure. */
  readonly last: number;
}

/** Where counts live: memory for one instance, Redis for many (credential-throttle-store.ts). */
export interface ThrottleStore {
  /** The records and flags under these keys (undefined / false when absent or expired). */
  read(recordKeys: readonly string[], flagKeys: readonly string[]): Promise<{ records: (ThrottleRecord | undefined)[]; flags: boolean[] }>;
  /** Adds one failure at `now` to each record; each then expires `ttlMs` after `now`. */
  add(recordKeys: readonly string[], now: number, ttlMs: number): Promise<ThrottleRecord[]>;
  remove(keys: readonly string[]): Promise<void>;
  setFlag(key: string, ttlMs: number): Promise<void>;
}

export interface CredentialThrottle {
  /** Before any credential is checked: may this attempt go ahead? */
  check(attempt: AuthAttempt): Promise<ThrottleVerdict>;
  /** The credentials were wrong (or the subject unknown: counted alike). */
  recordFailure(attempt: AuthAttempt): Promise<void>;
  /**
   * The credentials were right: the pair starts over and its address and device are
   * trusted. Callers on hot paths may skip it when check() said the attempt was `known`.
   */
  recordSuccess(attempt: AuthAttempt): Promise<void>;
}

export interface CredentialThrottleOptions {
  readonly policy: AuthThrottleConfig;
  readonly store: ThrottleStore;
  /** Separates the counts of different credentials: `login`, `client`. */
  readonly namespace: string;
  /** Called once when a pair or an address becomes blocked (an audit event). */
  readonly onBlocked?: (attempt: AuthAttempt, block: { scope: BlockScope; failures: number; seconds: number }) => void;
  /** The store failed: the attempt goes ahead (the throttle fails open) and this is told. */
  readonly onStoreError?: (error: unknown) => void;
  readonly now?: () => number;
}

/** How long an address or device stays trusted for a subject after a success. */
export const TRUST_MS = 90 * 24 * 3600 * 1000;

const hash = (value: string) => createHash('sha256').update(value).digest('base64url').slice(0, 22);

/** Milliseconds to wait after the `beyond`-th failure past the free ones (1 s, 2 s, 4 s ...). */
export function delayMs(beyond: number, maxDelaySeconds: number): number {
  if (beyond <= 0) return 0;
  return Math.min(1000 * 2 ** Math.min(beyond - 1, 30), maxDelaySeconds * 1000);
}

export function createCredentialThrottle(options: CredentialThrottleOptions): CredentialThrottle {
  const { policy, store, namespace: ns } = options;
  const now = options.now ?? Date.now;
  const windowMs = policy.window * 1000;

  function keys(attempt: AuthAttempt) {
    // "Ann@Example.com " and "ann@example.com" are one account (normalize-email.ts).
    const subject = hash(attempt.subject.normalize('NFKC').trim().toLowerCase());
    const address = addressKey(attempt.ip) || 'unknown';
    return {
      pair: `${ns}:p:${subject}:${address}`,
      ip: `${ns}:i:${address}`,
      subject: `${ns}:s:${subject}`,
      trustedAddress: `${ns}:t:${subject}:${address}`,
      trustedDevice: attempt.device ? `${ns}:d:${subject}:${hash(attempt.device)}` : undefined,
    };
  }

  type Refusal = Extract<ThrottleVerdict, { allowed: false }>;

  /** A refusal by one count, or undefined when that count lets the attempt through. */
  function judge(scope: Refusal['scope'], record: ThrottleRecord | undefined, free: number, blockAfter: number, at: number): Refusal | undefined {
    if (!record) return undefined;
    if (record.failures >= blockAfter) {
      const left = record.last + windowMs - at;
      return left > 0 ? { allowed: false, scope, blocked: true, retryAfterSeconds: Math.ceil(left / 1000) } : undefined;
    }
    const wait = record.last + delayMs(record.failures - free + 1, policy.maxDelay) - at;
    return record.failures >= free && wait > 0 ? { allowed: false, scope, blocked: false, retryAfterSeconds: Math.ceil(wait / 1000) } : undefined;
  }

  function reportBlocks(attempt: AuthAttempt, pair: ThrottleRecord | undefined, ip: ThrottleRecord | undefined): void {
    if (!options.onBlocked) return;
    // Counts grow by one, so a count equal to its threshold has just crossed it.
    if (pair?.failures === policy.blockAfter) options.onBlocked(attempt, { scope: 'pair', failures: pair.failures, seconds: policy.window });
    if (ip?.failures === policy.ipBlockAfter) options.onBlocked(attempt, { scope: 'ip', failures: ip.failures, seconds: policy.window });
  }

  async function guarded<T>(fallback: T, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      options.onStoreError?.(error);
      return fallback;
    }
  }

  return {
    check: (attempt) =>
      guarded<ThrottleVerdict>({ allowed: true, known: false }, async () => {
        const at = now();
        const k = keys(attempt);
        const flagKeys = k.trustedDevice ? [k.trustedAddress, k.trustedDevice] : [k.trustedAddress];
        const { records, flags } = await store.read([k.pair, k.ip, k.subject], flagKeys);
        const [pair, ip, subject] = records;
        const trusted = flags.some(Boolean);
        const refusals = [
          judge('pair', pair, policy.freeFailures, policy.blockAfter, at),
          judge('ip', ip, policy.ipFreeFailures, policy.ipBlockAfter, at),
          // The subject count only ever asks for a wait, and never of a trusted address or device.
          trusted ? undefined : judge('subject', subject, policy.subjectFreeFailures, Number.POSITIVE_INFINITY, at),
        ].filter((refusal): refusal is Refusal => refusal !== undefined);
        if (refusals.length === 0) return { allowed: true, known: flags.every(Boolean) && !pair };
        const strictest = (list: Refusal[]) => list.find((r) => r.blocked) ?? list.reduce((a, b) => (b.retryAfterSeconds > a.retryAfterSeconds ? b : a));
        const verdict = strictest(refusals);
        if (verdict.blocked) return verdict;
        // Retrying before the wait is over counts against this address (not the subject):
        // a script that ignores Retry-After reaches the block; a person who waits does not.
        // The answer reports the wait as it stands after this attempt.
        const [newPair, newIp] = await store.add([k.pair, k.ip], at, windowMs);
        reportBlocks(attempt, newPair, newIp);
        const after = [
          ...refusals.filter((r) => r.scope === 'subject'),
          judge('pair', newPair, policy.freeFailures, policy.blockAfter, at),
          judge('ip', newIp, policy.ipFreeFailures, policy.ipBlockAfter, at),
        ].filter((refusal): refusal is Refusal => refusal !== undefined);
        return after.length > 0 ? strictest(after) : verdict;
      }),

    recordFailure: (attempt) =>
      guarded(undefined, async () => {
        const k = keys(attempt);
        const [pair, ip] = await store.add([k.pair, k.ip, k.subject], now(), windowMs);
        reportBlocks(attempt, pair, ip);
      }),

    recordSuccess: (attempt) =>
      guarded(undefined, async () => {
        const k = keys(attempt);
        await store.remove([k.pair]);
        await store.setFlag(k.trustedAddress, TRUST_MS);
        if (k.trustedDevice) await store.setFlag(k.trustedDevice, TRUST_MS);
      }),
  };
}
