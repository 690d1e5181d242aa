import { setTimeout as sleep } from 'node:timers/promises';

import type { LoadScenario, MemoryScenario, PrepareContext } from '../scenarios.ts';
import { closedLoop, openLoop, summarize, type Latency, type OpenLoopRun, type Statuses } from './load.ts';
import { get } from './ops.ts';
import type { BenchPostgres } from './postgres.ts';
import { cpuSecondsBetween, cpuTicks, memoryOf, processTree } from './proc.ts';
import type { Target } from './target.ts';

// How a scenario is measured. CPU and database transactions are read at the start of each
// measurement, and the next reading of the same target closes it: the window holds the
// load and the idle time after it (while the other side runs), so work a server defers
// (buffered audit writes, garbage collection) is charged to the load that caused it.
// Postgres publishes a busy backend's counters at most once a second and an idle one's
// 10 s after its last flush, so a database reading waits until the database has been
// quiet that long.

const STATISTICS_SETTLE_MS = 10_500;

export interface MeasureOptions extends PrepareContext {
  readonly rounds: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly latencySeconds: number;
  readonly connections: number;
}

interface Reading {
  readonly ticks: ReadonlyMap<number, number>;
  /** Which of `ticks` are the database's backends (Portcullis only). */
  readonly backends?: ReadonlySet<number>;
  readonly transactions?: number;
}

export class Meter {
  readonly #postgres: BenchPostgres;
  readonly #lastLoad = new Map<string, number>();

  constructor(postgres: BenchPostgres) {
    this.#postgres = postgres;
  }

  /** Marks the end of load on a target (its database's statistics must settle before the next reading). */
  loaded(target: Target): void {
    if (target.database) this.#lastLoad.set(target.database, performance.now());
  }

  /** CPU ticks of the target's process tree and, for Portcullis, of its database's backends. */
  async read(target: Target): Promise<Reading> {
    if (!target.database) return { ticks: cpuTicks(processTree(target.pid)) };
    const quietFor = performance.now() - (this.#lastLoad.get(target.database) ?? 0);
    if (quietFor < STATISTICS_SETTLE_MS) await sleep(STATISTICS_SETTLE_MS - quietFor);
    const backends = await this.#postgres.backends(target.database);
    return {
      ticks: cpuTicks([...processTree(target.pid), ...backends]),
      backends: new Set(backends),
      transactions: await this.#postgres.transactions(target.database),
    };
  }
}

export interface Round {
  /** Operations of the measured load (and of the traffic beside it). */
  readonly operations: number;
  readonly besideOperations: number;
  readonly seconds: number;
  /** Measured operations per second (capacity, closed loop). */
  readonly rate: number;
  readonly cpuSeconds: number;
  /** CPU microseconds per operation, all operations in the window counted. */
  readonly cpuMicros: number;
  /** The part of cpuMicros spent by the database's backends (Portcullis only). */
  readonly databaseCpuMicros?: number;
  readonly transactions?: number;
  readonly transactionsPerOperation?: number;
  readonly statuses: Statuses;
}

export interface Side {
  readonly server: string;
  readonly rounds: readonly Round[];
  readonly median: { readonly rate: number; readonly cpuMicros: number; readonly databaseCpuMicros?: number; readonly transactionsPerOperation?: number };
  /** Share of operations whose status was not the expected one. */
  readonly unexpected: number;
  readonly latency: Latency;
}

export interface LoadResult {
  readonly kind: 'load';
  readonly id: string;
  readonly title: string;
  readonly unit: string;
  readonly floor: Side;
  readonly subject: Side;
  /** Subject CPU per operation / floor's, per round. */
  readonly ratios: readonly number[];
  readonly ratio: { readonly min: number; readonly median: number; readonly max: number };
  /** Login only: subject CPU per login / one argon2id verification. */
  readonly argon2Ratio?: number;
  readonly target?: LoadScenario['target'];
  readonly latencyNote: string;
  /** A Koa hello world's latency at the same rate (DESIGN.md: p99 within 10x of it). */
  readonly koaLatency?: Latency;
}

export const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length / 2;
  return sorted.length % 2 ? sorted[Math.floor(middle)]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

function tally(into: Statuses, from: Statuses): void {
  for (const [status, n] of Object.entries(from)) into[status] = (into[status] ?? 0) + n;
}

export interface Servers {
  get(name: LoadScenario['floor']): Promise<Target>;
}

export async function measureLoad(
  scenario: LoadScenario,
  servers: Servers,
  meter: Meter,
  options: MeasureOptions & { readonly argon2Micros: number },
  progress: (line: string) => void,
): Promise<LoadResult> {
  const sides = [
    { role: 'floor' as const, target: await servers.get(scenario.floor) },
    { role: 'subject' as const, target: await servers.get(scenario.subject) },
  ];
  for (const { target } of sides) {
    await scenario.prepare?.(target, options);
    await closedLoop(scenario.operation, target, { connections: options.connections, seconds: options.warmupSeconds });
    meter.loaded(target);
  }

  const readings = new Map<Target, Reading[]>(sides.map(({ target }) => [target, []]));
  const loads = new Map<Target, { operations: number; besideOperations: number; seconds: number; statuses: Statuses }[]>(sides.map(({ target }) => [target, []]));
  const besides = new Map<Target, OpenLoopRun[]>(sides.map(({ target }) => [target, []]));
  for (let round = 0; round < options.rounds; round++) {
    for (const { target } of sides) {
      readings.get(target)!.push(await meter.read(target));
      const [run, beside] = await Promise.all([
        closedLoop(scenario.operation, target, { connections: options.connections, seconds: options.seconds }),
        scenario.beside && openLoop(scenario.beside.operation, target, { rate: scenario.beside.rate, seconds: options.seconds }),
      ]);
      meter.loaded(target);
      const statuses = { ...run.statuses };
      if (beside) {
        besides.get(target)!.push(beside);
        tally(statuses, Object.fromEntries(Object.entries(beside.statuses).map(([status, n]) => [`beside ${status}`, n])));
      }
      loads.get(target)!.push({ operations: run.operations, besideOperations: beside?.samples.length ?? 0, seconds: run.seconds, statuses });
      progress(`${scenario.id} round ${round + 1}: ${target.name} ${Math.round(run.operations / run.seconds)}/s`);
    }
  }

  // Latency in an open loop at half of the subject's measured capacity, the same rate for
  // every server; the closing reading of each side comes before its latency run.
  const capacity = median(loads.get(sides[1]!.target)!.map((load) => load.operations / load.seconds));
  const rate = Math.max(1, Math.round(capacity / 2));
  const latencies = new Map<Target, Latency>();
  for (const { target } of sides) {
    readings.get(target)!.push(await meter.read(target));
    if (scenario.beside) latencies.set(target, summarize(besides.get(target)!));
    else {
      latencies.set(target, summarize([await openLoop(scenario.operation, target, { rate, seconds: options.latencySeconds })]));
      meter.loaded(target);
    }
  }
  const koa = scenario.beside ? undefined : summarize([await openLoop(get('/'), await servers.get('koa'), { rate, seconds: options.latencySeconds })]);

  const side = (role: 'floor' | 'subject', target: Target): Side => {
    const reads = readings.get(target)!;
    const expected = scenario.expect?.[role] ?? '200';
    const rounds = loads.get(target)!.map((load, i): Round => {
      const cpuSeconds = cpuSecondsBetween(reads[i]!.ticks, reads[i + 1]!.ticks);
      const all = load.operations + load.besideOperations;
      const transactions = target.database ? reads[i + 1]!.transactions! - reads[i]!.transactions! : undefined;
      const { backends } = reads[i + 1]!;
      const only = (pids: ReadonlySet<number>, ticks: ReadonlyMap<number, number>) => new Map([...ticks].filter(([pid]) => pids.has(pid)));
      const databaseSeconds = backends ? cpuSecondsBetween(only(backends, reads[i]!.ticks), only(backends, reads[i + 1]!.ticks)) : undefined;
      return {
        operations: load.operations,
        besideOperations: load.besideOperations,
        seconds: load.seconds,
        rate: load.operations / load.seconds,
        cpuSeconds,
        cpuMicros: (cpuSeconds / all) * 1e6,
        ...(databaseSeconds !== undefined && { databaseCpuMicros: (databaseSeconds / all) * 1e6 }),
        ...(transactions !== undefined && { transactions, transactionsPerOperation: transactions / all }),
        statuses: load.statuses,
      };
    });
    const operations = rounds.reduce((sum, round) => sum + round.operations, 0);
    const expectedCount = rounds.reduce((sum, round) => sum + (round.statuses[expected] ?? 0), 0);
    const perOperation = rounds.map((round) => round.transactionsPerOperation).filter((value) => value !== undefined);
    const databaseShares = rounds.map((round) => round.databaseCpuMicros).filter((value) => value !== undefined);
    return {
      server: target.name,
      rounds,
      median: {
        rate: median(rounds.map((round) => round.rate)),
        cpuMicros: median(rounds.map((round) => round.cpuMicros)),
        ...(databaseShares.length > 0 && { databaseCpuMicros: median(databaseShares) }),
        ...(perOperation.length > 0 && { transactionsPerOperation: median(perOperation) }),
      },
      unexpected: operations > 0 ? 1 - expectedCount / operations : 0,
      latency: latencies.get(target)!,
    };
  };
  const floor = side('floor', sides[0]!.target);
  const subject = side('subject', sides[1]!.target);
  const ratios = subject.rounds.map((round, i) => round.cpuMicros / floor.rounds[i]!.cpuMicros);
  return {
    kind: 'load',
    id: scenario.id,
    title: scenario.title,
    unit: scenario.unit,
    floor,
    subject,
    ratios,
    ratio: { min: Math.min(...ratios), median: median(ratios), max: Math.max(...ratios) },
    ...(scenario.target?.of === 'argon2' && { argon2Ratio: subject.median.cpuMicros / options.argon2Micros }),
    ...(scenario.target && { target: scenario.target }),
    latencyNote: scenario.beside ? `${scenario.beside.title}, during the rounds` : `${rate.toLocaleString('en-US')}/s (half capacity)`,
    ...(koa && { koaLatency: koa }),
  };
}

export interface MemoryResult {
  readonly kind: 'memory';
  readonly id: string;
  readonly title: string;
  readonly grants: number;
  readonly idleTarget: number;
  readonly sides: readonly {
    readonly server: string;
    readonly idle: { readonly rss: number; readonly peak: number; readonly started?: number };
    /** After the scenarios before this one, before any grant was added. */
    readonly beforeGrants: { readonly rss: number; readonly peak: number };
    readonly withGrants: { readonly rss: number; readonly peak: number; readonly statuses: Statuses } | { readonly error: string };
  }[];
}

export async function measureMemory(
  scenario: MemoryScenario,
  servers: Servers,
  postgres: BenchPostgres,
  meter: Meter,
  options: MeasureOptions & { readonly grants: number },
): Promise<MemoryResult> {
  const sides = [];
  for (const name of [scenario.floor, scenario.subject]) {
    const target = await servers.get(name);
    await scenario.prepare(target, options);
    const beforeGrants = memoryOf(target.pid);
    let withGrants: MemoryResult['sides'][number]['withGrants'];
    try {
      if (target.database) await postgres.cloneRows(target.database, scenario.grantsTable, options.grants);
      else {
        const response = await target.http.request(`/bench/grants?count=${options.grants}`, { method: 'POST' });
        if (response.status !== 200) throw new Error(`adding grants answered ${response.status}`);
      }
      const { statuses } = await closedLoop(scenario.operation, target, { connections: options.connections, seconds: options.seconds });
      meter.loaded(target);
      await sleep(2_000);
      withGrants = { ...memoryOf(target.pid), statuses };
    } catch (error) {
      withGrants = { error: (error as Error).message };
    }
    sides.push({ server: target.name, idle: target.idle, beforeGrants, withGrants });
  }
  return { kind: 'memory', id: scenario.id, title: scenario.title, grants: options.grants, idleTarget: scenario.idleTarget, sides };
}
