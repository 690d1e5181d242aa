import type pg from 'pg';

import type { Logger, Metrics } from '../observability/index.ts';
import { HOUSEKEEPING_LOCK } from './advisory-locks.ts';
import { reasonOf } from './database-outage.ts';
import { isDatabaseUnavailable } from './database-unavailable.ts';

// Keeps the tables flat under steady load with no manual janitor: expired oidc-provider
// records (the adapter already treats them as absent, so deleting them changes nothing a
// client can see), expired entries of the JWT deny-list (a revoked JWT past its `exp` is
// refused by its own expiry), audit events older than the retention, and the sealed
// responses of refresh-token rotations once their grace window is over (they hold live
// tokens, and only a retry inside the window may see them).
//
// Every instance schedules it; a session-level advisory lock makes exactly one of them
// run a round while the others skip it. Rows go in small batches so no statement holds
// locks on a hot table for long.

/** Tables whose rows carry `expires_at` and mean nothing after it. */
export const EXPIRING_TABLES = [
  'oidc_sessions',
  'oidc_interactions',
  'oidc_grants',
  'oidc_authorization_codes',
  'oidc_access_tokens',
  'oidc_refresh_tokens',
  'oidc_client_credentials',
  'oidc_pushed_authorization_requests',
  'oidc_device_codes',
  'oidc_replay_detections',
  'revoked_access_tokens',
] as const;

export const AUDIT_TABLE = 'audit_events';

export interface HousekeepingReport {
  /** False when another instance held the lock and this round was skipped. */
  readonly ran: boolean;
  /** Rows deleted per table (only tables that lost rows). */
  readonly deleted: Readonly<Record<string, number>>;
}

export interface Housekeeping {
  /** One round now (tests, and the scheduler). */
  runOnce(): Promise<HousekeepingReport>;
  /** Runs a round soon (a random delay spreads instances) and then every interval. */
  start(): void;
  /** Stops the schedule and waits for a running round. */
  stop(): Promise<void>;
}

export interface HousekeepingOptions {
  readonly pool: pg.Pool;
  readonly logger: Logger;
  readonly metrics?: Metrics | undefined;
  /** Audit events older than this many days are deleted. */
  readonly eventRetentionDays: number;
  /** REFRESH_GRACE_SECONDS: a rotation's stored response is cleared this long after it. */
  readonly refreshGraceSeconds?: number;
  readonly intervalMs: number;
  /** Rows per DELETE (default 1,000). */
  readonly batchSize?: number;
}

async function deleteInBatches(client: pg.PoolClient, sql: string, params: unknown[], batchSize: number): Promise<number> {
  let total = 0;
  for (;;) {
    const { rowCount } = await client.query(sql, [...params, batchSize]);
    total += rowCount ?? 0;
    if ((rowCount ?? 0) < batchSize) return total;
  }
}

export function createHousekeeping(options: HousekeepingOptions): Housekeeping {
  const { pool, logger, metrics } = options;
  const batchSize = options.batchSize ?? 1_000;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<HousekeepingReport> | undefined;
  let stopped = false;

  async function round(): Promise<HousekeepingReport> {
    const client = await pool.connect();
    let broken: Error | undefined;
    try {
      const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [HOUSEKEEPING_LOCK]);
      if (!rows[0]?.locked) return { ran: false, deleted: {} };
      try {
        const deleted: Record<string, number> = {};
        for (const table of EXPIRING_TABLES) {
          // The database's clock decides, like the adapter's reads (expires_at is timestamptz).
          const count = await deleteInBatches(
            client,
            `DELETE FROM "${table}" WHERE ctid IN (SELECT ctid FROM "${table}" WHERE expires_at < now() LIMIT $1)`,
            [],
            batchSize,
          );
          if (count > 0) deleted[table] = count;
        }
        const events = await deleteInBatches(
          client,
          `DELETE FROM "${AUDIT_TABLE}" WHERE id IN (SELECT id FROM "${AUDIT_TABLE}" WHERE time < now() - make_interval(days => $1) LIMIT $2)`,
          [options.eventRetentionDays],
          batchSize,
        );
        if (events > 0) deleted[AUDIT_TABLE] = events;
        const successors = await deleteInBatches(
          client,
          `UPDATE oidc_refresh_tokens SET successor_ciphertext = NULL WHERE ctid IN (SELECT ctid FROM oidc_refresh_tokens
             WHERE successor_ciphertext IS NOT NULL AND rotated_at < now() - make_interval(secs => $1) LIMIT $2)`,
          [options.refreshGraceSeconds ?? 0],
          batchSize,
        );
        if (successors > 0) deleted.refresh_successors = successors;
        // An operator's release of a throttle block matters for one throttle window (AUTH_THROTTLE_WINDOW, at most 7 days).
        const releases = await deleteInBatches(
          client,
          `DELETE FROM throttle_releases WHERE id IN (SELECT id FROM throttle_releases WHERE created_at < now() - interval '7 days' LIMIT $1)`,
          [],
          batchSize,
        );
        if (releases > 0) deleted.throttle_releases = releases;
        // An expired password reset link opens nothing; its row is only a hash.
        const resets = await deleteInBatches(
          client,
          `DELETE FROM password_resets WHERE token_hash IN (SELECT token_hash FROM password_resets WHERE expires_at < now() LIMIT $1)`,
          [],
          batchSize,
        );
        if (resets > 0) deleted.password_resets = resets;
        // Sign-up links and invitations alike (a link goes with its invitation), and links to a
        // new address; the audit trail keeps what they made.
        for (const table of ['sign_up_links', 'invitations', 'email_changes'] as const) {
          const count = await deleteInBatches(
            client,
            `DELETE FROM ${table} WHERE token_hash IN (SELECT token_hash FROM ${table} WHERE expires_at < now() LIMIT $1)`,
            [],
            batchSize,
          );
          if (count > 0) deleted[table] = count;
        }
        return { ran: true, deleted };
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [HOUSEKEEPING_LOCK]);
      }
    } catch (error) {
      // Discard the connection: if the unlock did not happen, closing it releases the lock.
      broken = error instanceof Error ? error : new Error(String(error));
      throw error;
    } finally {
      client.release(broken);
    }
  }

  async function runOnce(): Promise<HousekeepingReport> {
    try {
      const report = await round();
      metrics?.housekeepingRuns.inc({ outcome: report.ran ? 'ran' : 'skipped' });
      for (const [table, count] of Object.entries(report.deleted)) metrics?.housekeepingDeleted.inc({ table }, count);
      if (Object.keys(report.deleted).length > 0) logger.info({ deleted: report.deleted }, 'housekeeping purged expired rows');
      else logger.debug({ ran: report.ran }, 'housekeeping found nothing to purge');
      return report;
    } catch (error) {
      metrics?.housekeepingRuns.inc({ outcome: 'failed' });
      throw error;
    }
  }

  function schedule(delayMs: number): void {
    if (stopped) return;
    timer = setTimeout(() => {
      running = runOnce().catch((error: unknown) => {
        // An outage is logged once by database-outage.ts: here one line, without a stack.
        logger.warn(isDatabaseUnavailable(error) ? { reason: reasonOf(error) } : { err: error }, 'housekeeping failed; it will run again at the next interval');
        return { ran: false, deleted: {} };
      });
      void running.finally(() => {
        running = undefined;
        schedule(options.intervalMs);
      });
    }, delayMs);
    timer.unref();
  }

  return {
    runOnce,
    start() {
      stopped = false;
      schedule(Math.floor(Math.random() * Math.min(options.intervalMs, 60_000)));
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
