import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg, totalmem } from 'node:os';

import type { Latency, Statuses } from './load.ts';
import type { LoadResult, MemoryResult } from './measure.ts';
import { IDLE_MS } from './servers.ts';

// The run's record (raw JSON) and its tables: aligned text for the terminal, markdown for
// bench/RESULTS.md. Both show the same rows.

export interface Machine {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly node: string;
  readonly postgres: string;
  readonly loadAverage: { start: number; end?: number };
}

export interface BenchRun {
  readonly label: string;
  readonly startedAt: string;
  finishedAt?: string;
  readonly checkout: { readonly path: string; readonly commit: string; readonly dirty: boolean };
  readonly kitCommit: string;
  readonly machine: Machine;
  readonly settings: Record<string, number | boolean>;
  readonly argon2Micros: number;
  readonly cliSeconds: number;
  readonly results: (LoadResult | MemoryResult)[];
}

export function describeMachine(postgres: string): Machine {
  const cpuModel = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
  return {
    cpus: availableParallelism(),
    cpuModel,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    postgres,
    loadAverage: { start: loadavg()[0]! },
  };
}

const group = (value: number, digits = 0) => value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const micros = (value: number) => `${group(value)} µs`;
const ratio = (value: number) => `${value.toFixed(value >= 10 ? 1 : 2)}×`;
const ms = (value: number) => (value >= 100 ? group(value) : value.toFixed(1));
const mb = (bytes: number) => `${group(bytes / 2 ** 20)} MB`;
const statuses = (counts: Statuses) =>
  Object.entries(counts)
    .map(([status, n]) => `${status}×${group(n)}`)
    .join(', ');

function targetCell(result: LoadResult): string {
  if (!result.target) return '-';
  const value = result.target.of === 'argon2' ? result.argon2Ratio! : result.ratio.median;
  const verdict = value <= result.target.ratio ? 'met' : 'missed';
  return result.target.of === 'argon2'
    ? `≤ ${result.target.ratio}× argon2id (${ratio(value)}): ${verdict}`
    : `≤ ${result.target.ratio}×: ${verdict}`;
}

const LOAD_COLUMNS = ['scenario', 'floor', 'floor /s', 'Portcullis /s', 'floor CPU', 'Portcullis CPU', 'of it Postgres', 'ratio median (min-max)', 'target', 'DB xact / op'];

function loadRows(results: readonly LoadResult[]): string[][] {
  return results.map((r) => [
    `${r.title}${r.unit === 'request' ? '' : ` (per ${r.unit})`}`,
    r.floor.server,
    group(r.floor.median.rate),
    group(r.subject.median.rate),
    micros(r.floor.median.cpuMicros),
    micros(r.subject.median.cpuMicros),
    r.subject.median.databaseCpuMicros === undefined ? '-' : micros(r.subject.median.databaseCpuMicros),
    `${ratio(r.ratio.median)} (${ratio(r.ratio.min)}-${ratio(r.ratio.max)})`,
    targetCell(r),
    r.subject.median.transactionsPerOperation === undefined ? '-' : r.subject.median.transactionsPerOperation.toFixed(2),
  ]);
}

const LATENCY_COLUMNS = ['scenario', 'how', 'Portcullis p50 / p95 / p99 ms', 'floor p50 / p95 / p99 ms', 'Koa hello p99 ms', 'p99 ≤ 10× Koa and ≤ 50 ms'];

const percentiles = (latency: Latency) => `${ms(latency.p50)} / ${ms(latency.p95)} / ${ms(latency.p99)}`;

function latencyRows(results: readonly LoadResult[]): string[][] {
  return results.map((r) => {
    const koa = r.koaLatency;
    const p99 = r.subject.latency.p99;
    const verdict = koa && r.subject.server.startsWith('Portcullis') ? (p99 <= 10 * koa.p99 && p99 <= 50 ? 'met' : 'missed') : '-';
    return [r.title, r.latencyNote, percentiles(r.subject.latency), percentiles(r.floor.latency), koa ? ms(koa.p99) : '-', verdict];
  });
}

const MEMORY_COLUMNS = ['server', 'RSS 2 s after it answered', `idle RSS (${IDLE_MS / 1000} s after)`, 'RSS before the grants', 'with the grants, after the mix: RSS (peak)', 'target'];

function memoryRows(result: MemoryResult): string[][] {
  return result.sides.map((side, i) => [
    side.server,
    side.idle.started === undefined ? '-' : mb(side.idle.started),
    mb(side.idle.rss),
    mb(side.beforeGrants.rss),
    'error' in side.withGrants ? `not measured: ${side.withGrants.error}` : `${mb(side.withGrants.rss)} (${mb(side.withGrants.peak)})`,
    i === 0 ? '-' : `idle ≤ ${mb(result.idleTarget)}: ${side.idle.rss <= result.idleTarget ? 'met' : 'missed'}`,
  ]);
}

/** Statuses other than the expected one, and the generator's own lateness, when they matter. */
function notes(run: BenchRun): string[] {
  const lines: string[] = [];
  for (const r of run.results) {
    if (r.kind !== 'load') continue;
    if (r.id === 'mix') {
      // Keycloak's sizing guide: one vCPU serves 15 + 120 + 120 operations per second of this mix.
      const perCpuSecond = (side: LoadResult['floor']) => 1e6 / side.median.cpuMicros;
      lines.push(
        `mix: one CPU second serves ${group(perCpuSecond(r.subject))} operations on ${r.subject.server} (${(perCpuSecond(r.subject) / 255).toFixed(1)}× Keycloak's ` +
          `sizing of 255 per vCPU-second) and ${group(perCpuSecond(r.floor))} on the ${r.floor.server}.`,
      );
    }
    for (const side of [r.floor, r.subject]) {
      const all: Statuses = {};
      for (const round of side.rounds) for (const [status, n] of Object.entries(round.statuses)) all[status] = (all[status] ?? 0) + n;
      if (side.unexpected > 0.001) lines.push(`${r.id}, ${side.server}: ${(side.unexpected * 100).toFixed(1)}% of answers not the expected status (${statuses(all)}).`);
      const failed = Object.entries(side.latency.statuses).filter(([status]) => !status.endsWith('200') && !status.endsWith('429'));
      if (failed.length > 0) lines.push(`${r.id}, ${side.server}: latency run answers ${statuses(side.latency.statuses)}.`);
    }
  }
  const late = run.results.flatMap((r) => (r.kind === 'load' ? [[r.id, Math.max(r.floor.latency.generatorLag, r.subject.latency.generatorLag)] as const] : []));
  if (late.some(([, lag]) => lag > 5)) {
    lines.push(`The latency generator itself started requests late by up to (ms; counted in the latencies, a sign of a busy machine): ${late.map(([id, lag]) => `${id} ${ms(lag)}`).join(', ')}.`);
  }
  return lines;
}

function render(columns: readonly string[], rows: readonly (readonly string[])[], format: 'text' | 'markdown'): string {
  if (format === 'markdown') {
    const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
    return [line(columns), line(columns.map(() => '---')), ...rows.map(line)].join('\n');
  }
  const widths = columns.map((column, i) => Math.max(column.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(columns), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
}

export function formatRun(run: BenchRun, format: 'text' | 'markdown', resultsFile: string): string {
  const loads = run.results.filter((r): r is LoadResult => r.kind === 'load');
  const memory = run.results.find((r): r is MemoryResult => r.kind === 'memory');
  const { machine, settings } = run;
  const heading = (level: number, text: string) => (format === 'markdown' ? `${'#'.repeat(level)} ${text}` : text.toUpperCase());
  const out: string[] = [
    heading(2, `Run of ${run.startedAt.slice(0, 16).replace('T', ' ')} UTC: ${run.label}`),
    '',
    `Checkout ${run.checkout.path} at ${run.checkout.commit}${run.checkout.dirty ? ' (with uncommitted changes)' : ''}, measured by the kit at ${run.kitCommit}.`,
    `Machine: ${machine.cpus} CPUs (nproc), ${machine.cpuModel}, ${machine.memoryGiB} GiB; Node ${machine.node}; Postgres ${machine.postgres} on 127.0.0.1; ` +
      `load average ${machine.loadAverage.start.toFixed(2)} at the start, ${machine.loadAverage.end?.toFixed(2) ?? '?'} at the end.`,
    `Settings: ${settings.rounds} rounds of ${settings.seconds} s per side, ${settings.connections} keep-alive connections, ${settings.warmupSeconds} s warm-up, ` +
      `${settings.latencySeconds} s latency runs${settings.quick ? ' (--quick)' : ''}. Raw figures: ${resultsFile}.`,
    `One argon2id verification (OWASP parameters) costs ${micros(run.argon2Micros)} of CPU here; a CLI command (\`clients list\`) took ${run.cliSeconds.toFixed(2)} s.`,
    '',
  ];
  if (loads.length > 0) {
    out.push(heading(3, 'CPU per operation (server process tree + its Postgres backends), medians over the rounds'), '', render(LOAD_COLUMNS, loadRows(loads), format), '');
    out.push(heading(3, 'Latency, open loop (timed from each request’s scheduled start)'), '', render(LATENCY_COLUMNS, latencyRows(loads), format), '');
  }
  if (memory) out.push(heading(3, `Memory: idle after start, after the scenarios above, and with ${group(memory.grants)} more live grants after ${settings.seconds} s of the mix`), '', render(MEMORY_COLUMNS, memoryRows(memory), format), '');
  const remarks = notes(run);
  if (remarks.length > 0) out.push(...remarks.map((line) => `- ${line}`), '');
  return out.join('\n');
}

export const RESULTS_HEADING = '# `npm run bench`: Portcullis against the floors, in one run';

export const RESULTS_INTRO = `${RESULTS_HEADING}

Appended by \`npm run bench\` (usage and method: bench/README.md). Each scenario alternates the
floor and Portcullis over several rounds; ratios are per round, so they compare the two under
the same machine conditions. Absolute figures move with the machine and whatever else runs on it.
`;
