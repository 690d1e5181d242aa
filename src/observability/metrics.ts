import type pg from 'pg';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

// Every Prometheus series Portcullis exposes, on a registry of its own (no prom-client
// global): two apps in one process (the tests) never share or double-register series.
// Labels stay bounded: route names and patterns, never raw paths; status codes; OAuth
// error codes; grant types; registered client ids; fixed outcome words. Never a token,
// an email or an IP.

/** Outcomes of a password login, pre-set to 0 so dashboards and alerts see the series. */
export const LOGIN_OUTCOMES = ['success', 'failure', 'locked'] as const;
/** Results of an introspection request. */
export const INTROSPECTION_RESULTS = ['active', 'inactive', 'error'] as const;

const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const QUERY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export interface Metrics {
  readonly registry: Registry;
  /** Observed by the request-metrics middleware for every request. */
  readonly httpRequestDuration: Histogram<'method' | 'route' | 'status'>;
  /** One per successful token response. */
  readonly tokensIssued: Counter<'grant_type' | 'client_id'>;
  readonly oauthErrors: Counter<'error' | 'route'>;
  /** For the login routes: `metrics.loginAttempts.inc({ outcome: 'success' | 'failure' | 'locked' })`. */
  readonly loginAttempts: Counter<'outcome'>;
  /** For the abuse limits: `metrics.rateLimited.inc({ tier })` with a fixed tier word ('ip', 'account', ...). */
  readonly rateLimited: Counter<'tier'>;
  /** A rotated refresh token presented again: its grant was revoked. */
  readonly refreshReuse: Counter;
  /** For the refresh grace window: a concurrent refresh answered from the grace window. */
  readonly refreshGraceHits: Counter;
  readonly introspections: Counter<'result'>;
  readonly dbQueryDuration: Histogram<'command'>;
  readonly auditEventsWritten: Counter;
  readonly auditEventsDropped: Counter<'reason'>;
  readonly auditBuffered: Gauge;
  readonly housekeepingDeleted: Counter<'table'>;
  readonly housekeepingRuns: Counter<'outcome'>;
  /** Reports the pool's connections on every scrape (the last pool given wins). */
  trackPool(pool: pg.Pool): void;
}

export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const httpRequestDuration = new Histogram({
    name: 'portcullis_http_request_duration_seconds',
    help: 'Time to answer a request on the public listener, by method, route name or pattern, and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: HTTP_BUCKETS,
    registers,
  });
  const tokensIssued = new Counter({
    name: 'portcullis_tokens_issued_total',
    help: 'Successful token endpoint responses, by grant type and client',
    labelNames: ['grant_type', 'client_id'] as const,
    registers,
  });
  const oauthErrors = new Counter({
    name: 'portcullis_oauth_errors_total',
    help: 'OAuth / OpenID Connect error responses, by error code and route',
    labelNames: ['error', 'route'] as const,
    registers,
  });
  const loginAttempts = new Counter({
    name: 'portcullis_login_attempts_total',
    help: 'Password login attempts, by outcome',
    labelNames: ['outcome'] as const,
    registers,
  });
  const rateLimited = new Counter({
    name: 'portcullis_rate_limited_total',
    help: 'Requests refused by an abuse limit, by tier',
    labelNames: ['tier'] as const,
    registers,
  });
  const refreshReuse = new Counter({
    name: 'portcullis_refresh_token_reuse_total',
    help: 'Rotated refresh tokens presented again (their grant was revoked)',
    registers,
  });
  const refreshGraceHits = new Counter({
    name: 'portcullis_refresh_token_grace_hits_total',
    help: 'Concurrent refreshes answered inside the rotation grace window',
    registers,
  });
  const introspections = new Counter({
    name: 'portcullis_introspections_total',
    help: 'Token introspection requests, by result',
    labelNames: ['result'] as const,
    registers,
  });
  const dbQueryDuration = new Histogram({
    name: 'portcullis_db_query_duration_seconds',
    help: 'Database query round trips, by SQL command',
    labelNames: ['command'] as const,
    buckets: QUERY_BUCKETS,
    registers,
  });
  const auditEventsWritten = new Counter({
    name: 'portcullis_audit_events_written_total',
    help: 'Audit events stored',
    registers,
  });
  const auditEventsDropped = new Counter({
    name: 'portcullis_audit_events_dropped_total',
    help: 'Audit events lost: buffer full, database write failed, or recorded after shutdown',
    labelNames: ['reason'] as const,
    registers,
  });
  const auditBuffered = new Gauge({
    name: 'portcullis_audit_events_buffered',
    help: 'Audit events waiting to be written',
    registers,
  });
  const housekeepingDeleted = new Counter({
    name: 'portcullis_housekeeping_deleted_rows_total',
    help: 'Expired rows purged by housekeeping, by table',
    labelNames: ['table'] as const,
    registers,
  });
  const housekeepingRuns = new Counter({
    name: 'portcullis_housekeeping_runs_total',
    help: 'Housekeeping rounds, by outcome (ran, skipped: another instance held the lock, failed)',
    labelNames: ['outcome'] as const,
    registers,
  });

  let pool: pg.Pool | undefined;
  const poolGauge = (name: string, help: string, read: (p: pg.Pool) => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        if (pool) this.set(read(pool));
      },
    });
  poolGauge('portcullis_db_pool_connections', 'Open connections in the database pool', (p) => p.totalCount);
  poolGauge('portcullis_db_pool_idle_connections', 'Idle connections in the database pool', (p) => p.idleCount);
  poolGauge('portcullis_db_pool_waiting_requests', 'Queries waiting for a database connection', (p) => p.waitingCount);
  poolGauge('portcullis_db_pool_max_connections', 'Largest number of connections the pool may open', (p) => p.options.max ?? 10);

  // Zero-valued series for the words we know, so rate() and alerts work before the first event.
  for (const outcome of LOGIN_OUTCOMES) loginAttempts.inc({ outcome }, 0);
  for (const result of INTROSPECTION_RESULTS) introspections.inc({ result }, 0);
  for (const reason of ['buffer_full', 'write_failed', 'closed']) auditEventsDropped.inc({ reason }, 0);
  for (const outcome of ['ran', 'skipped', 'failed']) housekeepingRuns.inc({ outcome }, 0);

  return {
    registry,
    httpRequestDuration,
    tokensIssued,
    oauthErrors,
    loginAttempts,
    rateLimited,
    refreshReuse,
    refreshGraceHits,
    introspections,
    dbQueryDuration,
    auditEventsWritten,
    auditEventsDropped,
    auditBuffered,
    housekeepingDeleted,
    housekeepingRuns,
    trackPool(next) {
      pool = next;
    },
  };
}
