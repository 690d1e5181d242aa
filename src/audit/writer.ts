import { databaseFailureReason, isDatabaseUnavailable, type Sql } from '../db/index.ts';
import type { Logger, Metrics } from '../observability/index.ts';
// Not through the index: it loads prom-client, ~100 ms more for every CLI command.
import { scrubValue } from '../observability/redact.ts';
import type { AuditEvent, AuditSink } from './sink.ts';

// The audit trail's writer: `record` only appends to an in-memory buffer, so a request
// never waits for, or fails because of, the audit table. A timer (and a full batch)
// writes the buffer with one multi-row INSERT (plain SQL on the pool: a batch is written
// about every second under load, and Prisma's createMany cost more than the INSERT; see
// db/sql.ts). Promises:
// - the buffer is bounded: when it is full, new events are dropped and counted
//   (portcullis_audit_events_dropped_total{reason="buffer_full"}), never the process' memory;
// - a batch that fails while the database is unreachable stays buffered and is retried;
//   a batch that fails while the database answers is dropped (reason "write_failed"), so
//   one bad row can never block the trail;
// - close() writes whatever is buffered (main.ts calls it on shutdown, after the HTTP
//   server has drained and before the pool closes); events recorded later are dropped.

export interface AuditWriter extends AuditSink {
  /** Writes everything buffered so far (tests and shutdown). Never throws. */
  flush(): Promise<void>;
  /** Stops the timer, flushes, and drops later events. Idempotent. */
  close(): Promise<void>;
  readonly buffered: number;
}

export interface AuditWriterOptions {
  sql: Sql;
  logger: Logger;
  metrics?: Metrics | undefined;
  /** Most events held in memory (default 10,000). */
  maxBuffered?: number;
  /** Most rows per INSERT (default 500). */
  batchSize?: number;
  /** How often the buffer is written (default 1 s). */
  flushIntervalMs?: number;
}

/** One row of audit_events as written. */
export interface AuditRow {
  readonly time: Date;
  readonly type: string;
  readonly actor: string | null;
  readonly accountId: string | null;
  readonly clientId: string | null;
  readonly ip: string | null;
  readonly userAgent: string | null;
  readonly requestId: string | null;
  readonly data: unknown;
}

type Row = AuditRow;

/** A batch as one statement of fixed text: one array parameter per column. */
const INSERT_BATCH = `INSERT INTO audit_events (time, type, actor, account_id, client_id, ip, user_agent, request_id, data)
  SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::jsonb[])`;

function insertBatch(sql: Sql, rows: readonly Row[]) {
  const column = <T>(pick: (row: Row) => T) => rows.map(pick);
  return sql.query(INSERT_BATCH, [
    column((r) => r.time),
    column((r) => r.type),
    column((r) => r.actor),
    column((r) => r.accountId),
    column((r) => r.clientId),
    column((r) => r.ip),
    column((r) => r.userAgent),
    column((r) => r.requestId),
    column((r) => JSON.stringify(r.data)),
  ]);
}

const DROP_WARNING_INTERVAL_MS = 60_000;

/** Postgres refuses NUL in text and jsonb, and lone surrogates in jsonb: never let one row poison a batch. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

function clean(text: string | undefined, max: number): string | undefined {
  if (text === undefined) return undefined;
  // Cut first: a cut through a surrogate pair leaves a lone one, which the replacement mends.
  const cut = text.length > max ? text.slice(0, max) : text;
  return cut.replaceAll('\u0000', '').replace(LONE_SURROGATE, '\uFFFD');
}

function cleanDeep(value: unknown): unknown {
  if (typeof value === 'string') return clean(value, 2000);
  if (Array.isArray(value)) return value.map(cleanDeep);
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [clean(key, 200), cleanDeep(item)]));
  }
  return value;
}

export function toAuditRow(event: AuditEvent, time = new Date()): Row {
  return {
    time,
    type: clean(event.type, 100) ?? 'unknown',
    actor: clean(event.actor, 200) ?? null,
    accountId: clean(event.accountId, 200) ?? null,
    clientId: clean(event.clientId, 200) ?? null,
    ip: clean(event.ip, 100) ?? null,
    userAgent: clean(event.userAgent, 512) ?? null,
    requestId: clean(event.requestId, 128) ?? null,
    // Scrubbed even though callers promise not to pass secrets: the trail is kept for months.
    data: cleanDeep(scrubValue(event.data ?? {})),
  };
}

export function createAuditWriter(options: AuditWriterOptions): AuditWriter {
  const { sql, logger, metrics } = options;
  const maxBuffered = options.maxBuffered ?? 10_000;
  const batchSize = options.batchSize ?? 500;
  const buffer: Row[] = [];
  let closed = false;
  let draining: Promise<void> | undefined;
  let failing = false;
  let lastDropWarning = 0;
  let droppedSinceWarning = 0;

  const gauge = () => metrics?.auditBuffered.set(buffer.length);

  function drop(count: number, reason: 'buffer_full' | 'write_failed' | 'closed'): void {
    metrics?.auditEventsDropped.inc({ reason }, count);
    droppedSinceWarning += count;
    const now = Date.now();
    if (now - lastDropWarning >= DROP_WARNING_INTERVAL_MS) {
      logger.warn({ dropped: droppedSinceWarning, reason }, 'audit events dropped');
      lastDropWarning = now;
      droppedSinceWarning = 0;
    }
  }

  /** Writes one batch; false when it failed (the loop stops until the next tick). */
  async function writeBatch(): Promise<boolean> {
    const batch = buffer.splice(0, batchSize);
    if (batch.length === 0) return true;
    try {
      await insertBatch(sql, batch);
      metrics?.auditEventsWritten.inc(batch.length);
      if (failing) logger.info('audit events are being written again');
      failing = false;
      return true;
    } catch (error) {
      // A connection lost under the INSERT is an outage even if the database answers again
      // by now (it came back in between): keep the batch rather than drop it as refused.
      const reachable = !isDatabaseUnavailable(error) && (await sql.query('SELECT 1').then(
        () => true,
        () => false,
      ));
      if (reachable) {
        logger.error({ err: error, events: batch.length }, 'audit events could not be written and were dropped');
        drop(batch.length, 'write_failed');
        return true;
      }
      // Once per outage, one line: the database being away is no bug to trace.
      if (!failing) logger.warn({ reason: databaseFailureReason(error) }, 'the audit table is unreachable; events stay buffered');
      failing = true;
      const room = Math.max(0, maxBuffered - buffer.length);
      buffer.unshift(...batch.slice(0, room));
      if (batch.length > room) drop(batch.length - room, 'buffer_full');
      return false;
    } finally {
      gauge();
    }
  }

  async function writeAll(): Promise<void> {
    while (buffer.length > 0 && (await writeBatch()));
  }

  /** One writing loop at a time; `.finally` runs after the assignment, even for an empty buffer. */
  function drain(): Promise<void> {
    draining ??= writeAll().finally(() => {
      draining = undefined;
    });
    return draining;
  }

  const timer = setInterval(() => void drain(), options.flushIntervalMs ?? 1000);
  timer.unref();

  return {
    record(event) {
      if (closed) {
        drop(1, 'closed');
        return;
      }
      if (buffer.length >= maxBuffered) {
        drop(1, 'buffer_full');
        return;
      }
      buffer.push(toAuditRow(event));
      gauge();
      if (buffer.length >= batchSize && !draining) setImmediate(() => void drain());
    },
    async flush() {
      // A drain already running may have started before the newest events: run another.
      await draining;
      await drain();
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      await this.flush();
      if (buffer.length > 0) drop(buffer.splice(0).length, 'write_failed');
      gauge();
    },
    get buffered() {
      return buffer.length;
    },
  };
}
