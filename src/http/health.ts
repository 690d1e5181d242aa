import type pg from 'pg';

import { pendingMigrations, readMigrations, type Migration } from '../db/index.ts';

// Liveness and readiness, for the management listener. Live: the process answers.
// Ready: this instance should get traffic: the database answers within a short timeout,
// every migration is applied, the keys are loaded, and it is not shutting down. A load
// balancer or Kubernetes polls readiness every few seconds, so concurrent checks share one
// database round trip and a shutting-down instance answers without touching the database.

export interface ReadinessReport {
  readonly ready: boolean;
  readonly checks: {
    readonly database: 'ok' | 'unreachable' | 'skipped';
    readonly migrations: 'ok' | 'pending' | 'unknown';
    readonly keys: 'ok' | 'not_loaded';
    readonly shutdown: 'no' | 'in_progress';
  };
  readonly pendingMigrations?: readonly string[];
}

export interface Health {
  /** Readiness goes false at once and stays false; liveness is unaffected. */
  beginShutdown(): void;
  readonly shuttingDown: boolean;
  readiness(): Promise<ReadinessReport>;
}

export interface HealthOptions {
  readonly pool: pg.Pool;
  /** True once the signing and cookie keys are loaded. */
  readonly keysLoaded: () => boolean;
  /** The migrations this build expects (default: read once from prisma/migrations). */
  readonly migrations?: readonly Migration[];
  /** How long the database may take to answer before the instance counts as not ready. */
  readonly timeoutMs?: number;
}

class Timeout extends Error {}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Timeout(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export function createHealth(options: HealthOptions): Health {
  const timeoutMs = options.timeoutMs ?? 2_000;
  let shuttingDown = false;
  let inFlight: Promise<ReadinessReport> | undefined;
  // The files do not change while the process runs: read them once.
  let expected: Promise<readonly Migration[]> | undefined = options.migrations && Promise.resolve(options.migrations);

  async function check(): Promise<ReadinessReport> {
    const keys = options.keysLoaded() ? 'ok' : 'not_loaded';
    try {
      // One query proves the database answers and tells what is still to migrate.
      expected ??= readMigrations();
      const pending = await withTimeout(pendingMigrations(options.pool, await expected), timeoutMs);
      if (shuttingDown) return notReadyShuttingDown(keys);
      const migrations = pending.length === 0 ? 'ok' : 'pending';
      return {
        ready: migrations === 'ok' && keys === 'ok',
        checks: { database: 'ok', migrations, keys, shutdown: 'no' },
        ...(pending.length > 0 && { pendingMigrations: pending }),
      };
    } catch {
      return { ready: false, checks: { database: 'unreachable', migrations: 'unknown', keys, shutdown: shuttingDown ? 'in_progress' : 'no' } };
    }
  }

  function notReadyShuttingDown(keys: 'ok' | 'not_loaded'): ReadinessReport {
    return { ready: false, checks: { database: 'skipped', migrations: 'unknown', keys, shutdown: 'in_progress' } };
  }

  return {
    beginShutdown() {
      shuttingDown = true;
    },
    get shuttingDown() {
      return shuttingDown;
    },
    readiness() {
      if (shuttingDown) return Promise.resolve(notReadyShuttingDown(options.keysLoaded() ? 'ok' : 'not_loaded'));
      inFlight ??= check().finally(() => {
        inFlight = undefined;
      });
      return inFlight;
    },
  };
}
