import { setTimeout as sleep } from 'node:timers/promises';

import type { Operation } from './ops.ts';
import type { Target } from './target.ts';

// Two ways to put load on a target. Closed loop: `connections` workers each run the
// operation back to back for a while (capacity, CPU per request). Open loop: operations
// start on a fixed schedule whether or not earlier ones have finished, and each is timed
// from its scheduled start, so a slow server cannot slow the clock that judges it (no
// coordinated omission); a request that waits for a free connection waits on the clock.

export type Statuses = Record<string, number>;

export interface ClosedLoopResult {
  readonly operations: number;
  readonly seconds: number;
  readonly statuses: Statuses;
}

function count(statuses: Statuses, status: string): void {
  statuses[status] = (statuses[status] ?? 0) + 1;
}

async function settle(operation: Operation, target: Target): Promise<string> {
  try {
    return await operation(target);
  } catch (error) {
    return `error ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`;
  }
}

export async function closedLoop(operation: Operation, target: Target, options: { connections: number; seconds: number }): Promise<ClosedLoopResult> {
  const statuses: Statuses = {};
  let operations = 0;
  const started = performance.now();
  const deadline = started + options.seconds * 1000;
  const worker = async () => {
    while (performance.now() < deadline) {
      count(statuses, await settle(operation, target));
      operations += 1;
    }
  };
  await Promise.all(Array.from({ length: options.connections }, worker));
  return { operations, seconds: (performance.now() - started) / 1000, statuses };
}

export interface OpenLoopRun {
  /** Operations started per second, as scheduled. */
  readonly rate: number;
  /** Milliseconds from each operation's scheduled start to its end, ascending. */
  readonly samples: readonly number[];
  readonly statuses: Statuses;
  /** The generator's own worst lateness in starting an operation (ms); large means it was starved. */
  readonly generatorLag: number;
}

export interface Latency {
  readonly rate: number;
  readonly operations: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
  readonly statuses: Statuses;
  readonly generatorLag: number;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Percentiles over one or more runs at the same rate. */
export function summarize(runs: readonly OpenLoopRun[]): Latency {
  const samples = runs.flatMap((run) => run.samples).sort((a, b) => a - b);
  const statuses: Statuses = {};
  for (const run of runs) for (const [status, n] of Object.entries(run.statuses)) statuses[status] = (statuses[status] ?? 0) + n;
  return {
    rate: runs[0]?.rate ?? 0,
    operations: samples.length,
    p50: percentile(samples, 50),
    p95: percentile(samples, 95),
    p99: percentile(samples, 99),
    max: samples.at(-1) ?? Number.NaN,
    statuses,
    generatorLag: Math.max(0, ...runs.map((run) => run.generatorLag)),
  };
}

export async function openLoop(operation: Operation, target: Target, options: { rate: number; seconds: number }): Promise<OpenLoopRun> {
  const interval = 1000 / options.rate;
  const total = Math.max(1, Math.round(options.rate * options.seconds));
  const samples: number[] = [];
  const statuses: Statuses = {};
  const running: Promise<void>[] = [];
  let generatorLag = 0;
  const start = performance.now();
  for (let sent = 0; sent < total; ) {
    const now = performance.now();
    // Everything due by now starts now; each keeps its own scheduled time.
    for (; sent < total && start + sent * interval <= now; sent++) {
      const scheduled = start + sent * interval;
      generatorLag = Math.max(generatorLag, now - scheduled);
      running.push(
        settle(operation, target).then((status) => {
          samples.push(performance.now() - scheduled);
          count(statuses, status);
        }),
      );
    }
    if (sent < total) await sleep(Math.max(0, start + sent * interval - performance.now()));
  }
  await Promise.all(running);
  samples.sort((a, b) => a - b);
  return { rate: options.rate, samples, statuses, generatorLag };
}
