import type pg from 'pg';

import type { Logger, Metrics } from '../observability/index.ts';

// A database outage as the operator sees it: one warning when the first request fails for
// it, one line when the database answers again (with how long it was away), and a counter
// of the requests answered 503 meanwhile, never a stack per request. While it lasts, a
// probe asks the database every `probeMs` (one `SELECT 1`), so the end is noticed even when
// no request comes; the pool opens new connections by itself, so nothing needs a restart.
// Readiness (http/health.ts) asks the database on its own and turns false and true again
// independently of this.

/** How long ended outages are remembered (downBetween). */
const RECENT_OUTAGES_MS = 10 * 60_000;

/** What a client is told to wait before retrying while the database is away. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

export interface DatabaseOutage {
  /** A request is answered 503 because of `error` (a database-unavailable error): counted; the first of an outage logs it. */
  refused(error: unknown): void;
  /** Whether an outage is in progress (between its warning and its recovery line). */
  readonly active: boolean;
  readonly retryAfterSeconds: number;
  /**
   * Milliseconds of [from, to] (epoch ms, this clock) during which this instance saw the
   * database away, from outages of the last RECENT_OUTAGES_MS. A client cannot retry
   * anything then: the refresh grace window does not run meanwhile (refresh-request.ts).
   */
  downBetween(from: number, to: number): number;
  /** Stops the probe (at shutdown). */
  close(): void;
}

export function createDatabaseOutage(deps: {
  pool: pg.Pool;
  logger: Logger;
  metrics?: Pick<Metrics, 'unavailableResponses'> | undefined;
  probeMs?: number;
}): DatabaseOutage {
  const probeMs = deps.probeMs ?? 1_000;
  const counted = deps.metrics?.unavailableResponses.labels({ dependency: 'database' });
  let since: number | undefined;
  /** Outages that ended, newest last, for downBetween. */
  const ended: { start: number; end: number }[] = [];
  let refusedCount = 0;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  function probe(): void {
    timer = setTimeout(() => {
      deps.pool.query('SELECT 1').then(
        () => {
          if (since === undefined) return;
          deps.logger.info({ downMs: Date.now() - since, refusedRequests: refusedCount }, 'database is reachable again: serving requests');
          ended.push({ start: since, end: Date.now() });
          while (ended.length > 0 && ended[0]!.end < Date.now() - RECENT_OUTAGES_MS) ended.shift();
          since = undefined;
          timer = undefined;
        },
        () => {
          if (!closed) probe();
        },
      );
    }, probeMs);
    timer.unref();
  }

  return {
    refused(error) {
      counted?.inc();
      refusedCount += 1;
      if (since !== undefined || closed) return;
      since = Date.now();
      refusedCount = 1;
      deps.logger.warn(
        { reason: reasonOf(error), retryAfterSeconds: DATABASE_RETRY_AFTER_SECONDS },
        'database unreachable: answering 503 with Retry-After until it is back',
      );
      probe();
    },
    get active() {
      return since !== undefined;
    },
    retryAfterSeconds: DATABASE_RETRY_AFTER_SECONDS,
    downBetween(from, to) {
      const outages = since === undefined ? ended : [...ended, { start: since, end: Date.now() }];
      return outages.reduce((total, outage) => total + Math.max(0, Math.min(to, outage.end) - Math.max(from, outage.start)), 0);
    },
    close() {
      closed = true;
      clearTimeout(timer);
    },
  };
}

/** The innermost message and code, one line, for a warning (never a stack; no URL or password is in these). */
export function reasonOf(error: unknown): string {
  let current = error as { message?: unknown; code?: unknown; cause?: unknown } | undefined;
  let reason = '';
  for (let depth = 0; depth < 6 && current && typeof current === 'object'; depth++) {
    const code = typeof current.code === 'string' ? `${current.code}: ` : '';
    // Prisma's messages start with where it was called and end with what happened.
    if (typeof current.message === 'string') reason = `${code}${current.message.split('\n').findLast((line) => line.trim())?.trim() ?? ''}`.slice(0, 160);
    current = current.cause as typeof current;
  }
  return reason;
}
