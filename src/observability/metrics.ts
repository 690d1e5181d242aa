import type pg from 'pg';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

import type { BuildInfo } from './build-info.ts';

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
  /** Requests answered 503 because a dependency was away (`database`, `redis`). */
  readonly unavailableResponses: Counter<'dependency'>;
  /** Reports the pool's connections on every scrape (the last pool given wins). */
  trackPool(pool: pg.Pool): void;
  /** Reports the sessions and the signing keys' age at scrape time, read at most once per `cacheMs` (the last sources given win). */
  trackState(sources: StateSources, options?: { cacheMs?: number }): void;
}

/** What the state gauges read, answered by the assembly's stores (oidc/). */
export interface StateSources {
  /** Browser sessions not yet expired, across every instance on the database. */
  activeSessions(): Promise<number>;
  /** When each key this process signs with was created, by algorithm. */
  signingKeys(): Promise<readonly { readonly alg: string; readonly createdAt: Date }[]>;
}

/** How long a state reading serves scrapes: a scrape every 15 s costs one query per 30 s. */
const STATE_CACHE_MS = 30_000;

/**
 * The last reading of `read`, refreshed when older than `ms`; scrapes at once share one
 * refresh. A failed refresh keeps the last reading (a scrape must never fail for it).
 */
function cachedReading<T>(read: () => Promise<T>, ms: number): () => Promise<T | undefined> {
  let value: T | undefined;
  let readAt = -Infinity;
  let pending: Promise<void> | undefined;
  return async () => {
    if (performance.now() - readAt >= ms) {
      pending ??= read()
        .then((next) => {
          value = next;
        })
        .catch(() => undefined)
        .finally(() => {
          readAt = performance.now();
          pending = undefined;
        });
      await pending;
    }
    return value;
  };
}

export function createMetrics(options: { defaultMetrics?: boolean; buildInfo?: BuildInfo } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const registers = [registry];

  // Constant 1: which version and commit run, for dashboards to join on (build-info.ts reads it once).
  const build = options.buildInfo ?? { version: 'unknown', commit: 'unknown' };
  new Gauge({
    name: 'portcullis_build_info',
    help: 'Always 1; the labels say which Portcullis version and commit run',
    labelNames: ['version', 'commit'] as const,
    registers,
  }).set({ version: build.version, commit: build.commit }, 1);

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
  const unavailableResponses = new Counter({
    name: 'portcullis_unavailable_responses_total',
    help: 'Requests answered 503 with Retry-After because a dependency was unreachable, by dependency (database, redis)',
    labelNames: ['dependency'] as const,
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

  let state: { sessions: () => Promise<number | undefined>; keys: () => Promise<readonly { alg: string; createdAt: Date }[] | undefined> } | undefined;
  new Gauge({
    name: 'portcullis_active_sessions',
    help: 'Browser sessions not yet expired, across every instance on the database (read at most every 30 s)',
    registers,
    async collect() {
      const count = await state?.sessions();
      if (count !== undefined) this.set(count);
    },
  });
  new Gauge({
    name: 'portcullis_signing_key_age_seconds',
    help: 'Age of the key this instance signs with, by algorithm',
    labelNames: ['alg'] as const,
    registers,
    async collect() {
      // The creation times are cached; the age itself is computed at every scrape.
      const keys = await state?.keys();
      for (const key of keys ?? []) this.set({ alg: key.alg }, Math.max(0, Math.round((Date.now() - key.createdAt.getTime()) / 1000)));
    },
  });

  // Zero-valued series for the words we know, so rate() and alerts work before the first event.
  for (const outcome of LOGIN_OUTCOMES) loginAttempts.inc({ outcome }, 0);
  for (const result of INTROSPECTION_RESULTS) introspections.inc({ result }, 0);
  for (const reason of ['buffer_full', 'write_failed', 'closed']) auditEventsDropped.inc({ reason }, 0);
  for (const outcome of ['ran', 'skipped', 'failed']) housekeepingRuns.inc({ outcome }, 0);
  for (const dependency of ['database', 'redis']) unavailableResponses.inc({ dependency }, 0);

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
    unavailableResponses,
    trackPool(next) {
      pool = next;
    },
    trackState(sources, trackOptions = {}) {
      const ms = trackOptions.cacheMs ?? STATE_CACHE_MS;
      state = { sessions: cachedReading(() => sources.activeSessions(), ms), keys: cachedReading(() => sources.signingKeys(), ms) };
    },
  };
}
