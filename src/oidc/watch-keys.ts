import type { Sealer } from '../crypto/index.ts';
import { databaseFailureReason, isDatabaseUnavailable } from '../db/index.ts';
import type { Logger } from '../observability/index.ts';
import type { RotationPolicy } from './key-rotation.ts';
import type { KeyStore } from './key-store.ts';
import { readKeyMaterial, type KeyMaterial } from './signing-keys.ts';

// Keeps this instance's keys in step with the database without a restart. It re-reads the
// keys when:
// - the change feed says something changed (a rotation or retirement by any instance or the
//   CLI; milliseconds on Postgres),
// - every `refreshMs` in any case (the feed may be down, or absent: the embedded database),
// - a key's standing changes by the clock (an announced key's first signature).
// So a change reaches this instance within `refreshMs` at worst, and a key activates here
// within a timer's lag of its `activatesAt`. `onChange` is called only when what the engine
// must hold differs (the fingerprint). Each round first runs `maintain` (retire what became
// retirable, the rotation schedule); the store makes that one step across instances.

export interface KeyWatcher {
  /** Re-reads now (and after any round already running). */
  refresh(): Promise<void>;
  /**
   * False when this instance may be behind the database: no successful read for
   * `staleAfterMs`, or a change announced by the feed that it has failed to read for a few
   * seconds. Readiness follows it, so a load balancer stops sending this instance's JWKS
   * and tokens (signed with keys the others may have withdrawn) to anyone.
   */
  inStep(): boolean;
  start(): void;
  stop(): Promise<void>;
}

export interface KeyWatcherOptions {
  readonly store: KeyStore;
  readonly sealer: Sealer;
  readonly policy: () => Promise<RotationPolicy>;
  readonly initial: KeyMaterial;
  readonly onChange: (material: KeyMaterial) => void;
  /** The registry/key change feed, when there is one. */
  readonly feed?: { onChange(listener: () => void): void } | undefined;
  readonly maintain?: () => Promise<unknown>;
  readonly refreshMs: number;
  /** How long without a successful read before inStep() is false (the JWKS cache lifetime). */
  readonly staleAfterMs: number;
  readonly logger: Logger;
}

/** How long a change the feed announced may stay unread before inStep() is false. */
const NOTIFIED_GRACE_MS = 5_000;

/**
 * After a failed round, the next one comes this soon rather than at the next interval: a
 * database outage makes every instance's round fail (and the feed announces a change when
 * it loses its connection), and an instance must be in step, so ready, within about a
 * second of the database's return, not a KEY_REFRESH_INTERVAL later.
 */
const RETRY_AFTER_FAILURE_MS = 1_000;

/** setTimeout's limit; a later change is re-planned by the periodic round anyway. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A database outage is logged once by the outage tracker: here one line, never its stack. */
const failure = (error: unknown) => (isDatabaseUnavailable(error) ? { reason: databaseFailureReason(error) } : { err: error });

export function createKeyWatcher(options: KeyWatcherOptions): KeyWatcher {
  const { logger } = options;
  let current = options.initial;
  let readAt = Date.now();
  let notifiedAt: number | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let stopped = true;
  let interval: NodeJS.Timeout | undefined;
  let atChange: NodeJS.Timeout | undefined;
  let retry: NodeJS.Timeout | undefined;
  /** In a streak of failed rounds: only its first failure is logged (rounds retry every second). */
  let failing = false;
  let maintenanceFailing = false;

  function planNextChange() {
    clearTimeout(atChange);
    if (stopped || !current.nextChangeAt) return;
    // A little after the moment, so the clock has certainly passed it.
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, current.nextChangeAt.getTime() - Date.now()) + 50);
    atChange = setTimeout(() => void refresh(), delay);
    atChange.unref();
  }

  async function round(): Promise<void> {
    try {
      await options.maintain?.();
      maintenanceFailing = false;
    } catch (error) {
      if (!maintenanceFailing) logger.warn(failure(error), 'key maintenance failed; it runs again at the next round');
      maintenanceFailing = true;
    }
    const startedAt = Date.now();
    const policy = await options.policy();
    const next = await readKeyMaterial(options.store, options.sealer, policy);
    // Taken as current only once the engine holds it: a swap that failed is tried again.
    if (next.fingerprint !== current.fingerprint) {
      options.onChange(next);
      logger.info({ keys: next.fingerprint }, 'keys changed: the engine now uses them');
    }
    current = next;
    readAt = startedAt;
    if (notifiedAt !== undefined && notifiedAt <= startedAt) notifiedAt = undefined;
    planNextChange();
  }

  function refresh(): Promise<void> {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        await round().then(
          () => {
            clearTimeout(retry);
            if (failing) logger.info('keys are read again');
            failing = false;
          },
          (error: unknown) => {
            if (!failing) logger.warn(failure(error), 'reading the keys failed; the current ones stay in use, read again every second');
            failing = true;
            clearTimeout(retry);
            if (stopped) return;
            retry = setTimeout(() => void refresh(), RETRY_AFTER_FAILURE_MS);
            retry.unref();
          },
        );
      } while (again && !stopped);
    })().finally(() => {
      running = undefined;
    });
    return running;
  }

  options.feed?.onChange(() => {
    notifiedAt ??= Date.now();
    if (!stopped) void refresh();
  });

  return {
    refresh,
    inStep() {
      const now = Date.now();
      if (now - readAt > options.staleAfterMs) return false;
      return notifiedAt === undefined || now - notifiedAt <= NOTIFIED_GRACE_MS;
    },
    start() {
      stopped = false;
      interval = setInterval(() => void refresh(), options.refreshMs);
      interval.unref();
      planNextChange();
    },
    async stop() {
      stopped = true;
      clearInterval(interval);
      clearTimeout(atChange);
      clearTimeout(retry);
      await running;
    },
  };
}
