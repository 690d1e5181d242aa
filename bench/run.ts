// `npm run bench [-- options]`: Portcullis against its floors in one run (bench/README.md).

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { argon2VerifyMicros } from './lib/argon2.ts';
import { closedLoop } from './lib/load.ts';
import { Meter, measureLoad, measureMemory, type MeasureOptions, type Servers } from './lib/measure.ts';
import { measureScale } from './lib/scale.ts';
import { connectPostgres } from './lib/postgres.ts';
import { summarizeProfile, type CpuProfile } from './lib/profile.ts';
import { describeMachine, formatRun, RESULTS_HEADING, RESULTS_INTRO, type BenchRun } from './lib/report.ts';
import { benchSetup, IDLE_MS, Processes, seedPortcullis, startEngine, startHello, startPortcullis, type PortcullisOptions } from './lib/servers.ts';
import type { Target } from './lib/target.ts';
import { SCENARIOS, type ServerName } from './scenarios.ts';

const BENCH = new URL('.', import.meta.url).pathname;
const KIT = resolve(BENCH, '..');

const USAGE = `npm run bench [-- options]

  --checkout <dir>     the Portcullis checkout to measure (default: this one)
  --label <name>       names the run in its results file (default: <checkout folder>-<commit>)
  --only <ids>         comma-separated scenarios: ${SCENARIOS.map((s) => s.id).join(', ')}
  --quick              2 rounds of 3 s, 2 s warm-up, 3 s latency runs, no RESULTS.md entry (for development)
  --rounds <n>         rounds per scenario (default 5)
  --seconds <n>        seconds per side and round (default 10)
  --latency-seconds <n> seconds of each open-loop latency run (default 10)
  --connections <n>    keep-alive connections (default 50)
  --grants <n>         live grants added for the memory scenario (default 100000)
  --record / --no-record  append the run to bench/RESULTS.md (default: yes unless --quick)
  --profile <id>       instead: run one scenario on Portcullis under --cpu-prof and print
                       where its CPU time goes
  --scale <id>         instead: requests/s of one scenario on one Portcullis instance and on
                       two on the same database, alternating (default rounds and seconds)
  --postgres <url>     the Postgres server (default BENCH_POSTGRES_URL or
                       postgresql://postgres@127.0.0.1:5432/postgres)`;

function parseOptions() {
  const { values } = parseArgs({
    options: {
      checkout: { type: 'string', default: KIT },
      label: { type: 'string' },
      only: { type: 'string' },
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      seconds: { type: 'string' },
      'latency-seconds': { type: 'string' },
      connections: { type: 'string', default: '50' },
      grants: { type: 'string', default: '100000' },
      record: { type: 'boolean' },
      'no-record': { type: 'boolean' },
      profile: { type: 'string' },
      scale: { type: 'string' },
      postgres: { type: 'string', default: process.env.BENCH_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const number = (name: string, value: string | undefined, fallback: number) => {
    const parsed = Number(value ?? fallback);
    if (!Number.isFinite(parsed) || parsed <= 0) throw new Error(`--${name} must be a positive number`);
    return parsed;
  };
  const quick = values.quick;
  const only = values.only?.split(',').map((id) => id.trim());
  const single = values.profile ?? values.scale;
  const unknown = [...(only ?? []), ...(single ? [single] : [])].filter((id) => !SCENARIOS.some((s) => s.id === id));
  if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(', ')} (known: ${SCENARIOS.map((s) => s.id).join(', ')})`);
  const checkout = resolve(values.checkout);
  const connections = number('connections', values.connections, 50);
  const measure: MeasureOptions & { grants: number } = {
    rounds: number('rounds', values.rounds, quick ? 2 : 5),
    seconds: number('seconds', values.seconds, quick ? 3 : 10),
    warmupSeconds: quick ? 2 : 5,
    latencySeconds: number('latency-seconds', values['latency-seconds'], quick ? 3 : 10),
    connections,
    chains: 2 * connections,
    grants: number('grants', values.grants, 100_000),
  };
  return {
    checkout,
    label: values.label,
    scenarios: SCENARIOS.filter((s) => (single ? s.id === single : !only || only.includes(s.id))),
    quick,
    record: values['no-record'] ? false : (values.record ?? !quick),
    profile: values.profile !== undefined,
    scale: values.scale !== undefined,
    postgres: values.postgres,
    measure,
  };
}

const git = (dir: string, ...args: string[]) => execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8' }).trim();
const progress = (line: string) => process.stderr.write(`bench: ${line}\n`);

async function main(): Promise<void> {
  const options = parseOptions();
  const postgres = await connectPostgres(options.postgres);
  const database = await postgres.createDatabase();
  const processes = new Processes();
  let cleaned: Promise<void> | undefined;
  const cleanUp = () =>
    (cleaned ??= (async () => {
      await processes.stopAll();
      await postgres.dropDatabase(database.name).catch(() => {});
      await postgres.close();
    })());
  process.once('SIGINT', () => void cleanUp().finally(() => process.exit(130)));

  try {
    const argon2Micros = await argon2VerifyMicros();
    const commit = git(options.checkout, 'rev-parse', '--short', 'HEAD');
    const label = options.label ?? `${basename(options.checkout)}-${commit}`;
    const portcullis: PortcullisOptions = {
      checkout: options.checkout,
      databaseUrl: database.url,
      database: database.name,
      masterSecret: randomBytes(32).toString('base64url'),
      connections: options.measure.connections,
      rateLimits: false,
    };
    progress(`seeding ${database.name} through ${options.checkout}'s CLI`);
    const floorSetup = benchSetup(20);
    const { setup, cliSeconds } = await seedPortcullis(portcullis, floorSetup);

    if (options.profile) {
      await profile(options.scenarios[0]!, processes, portcullis, setup, options.measure, label);
      return;
    }
    if (options.scale) {
      await scale(options.scenarios[0]!, processes, portcullis, setup, options.measure, label, postgres.version);
      return;
    }

    // Servers start in a fixed order, each measured idle once it answers; the rate-limited
    // Portcullis only when a scenario needs it.
    // Idle memory (the memory scenario) is read once a server has sat idle for IDLE_MS.
    const idleMs = options.scenarios.some((scenario) => scenario.kind === 'memory') ? IDLE_MS : 0;
    const starters: Record<ServerName, () => Promise<Target>> = {
      'node:http': () => startHello(processes, 'http', floorSetup, options.measure.connections, idleMs),
      koa: () => startHello(processes, 'koa', floorSetup, options.measure.connections, idleMs),
      engine: () => startEngine(processes, floorSetup, options.measure.connections, idleMs),
      portcullis: () => startPortcullis(processes, portcullis, setup, 'Portcullis', idleMs),
      'portcullis-limited': () => startPortcullis(processes, { ...portcullis, rateLimits: true }, setup, 'Portcullis (rate limits on)'),
    };
    const started = new Map<ServerName, Promise<Target>>();
    const servers: Servers = { get: (name) => started.get(name) ?? started.set(name, starters[name]()).get(name)! };
    for (const name of ['node:http', 'koa', 'engine', 'portcullis'] as const) await servers.get(name);

    const run: BenchRun = {
      label,
      startedAt: new Date().toISOString(),
      // The kit's own outputs do not make a checkout's server differ from its commit.
      checkout: { path: options.checkout, commit, dirty: git(options.checkout, 'status', '--porcelain', '--', '.', ':!bench/results', ':!bench/RESULTS.md').length > 0 },
      kitCommit: git(KIT, 'rev-parse', '--short', 'HEAD'),
      machine: describeMachine(postgres.version),
      settings: { ...options.measure, quick: options.quick },
      argon2Micros,
      cliSeconds,
      results: [],
    };
    const meter = new Meter(postgres);
    for (const scenario of options.scenarios) {
      progress(`${scenario.id}: ${scenario.title}`);
      run.results.push(
        scenario.kind === 'memory'
          ? await measureMemory(scenario, servers, postgres, meter, options.measure)
          : await measureLoad(scenario, servers, meter, { ...options.measure, argon2Micros }, progress),
      );
    }
    run.machine.loadAverage.end = loadavg()[0]!;
    run.finishedAt = new Date().toISOString();

    const stamp = run.startedAt.slice(0, 19).replaceAll(':', '-');
    const file = join(BENCH, 'results', `${stamp}Z-${label.replace(/[^A-Za-z0-9._-]+/g, '_')}.json`);
    mkdirSync(join(BENCH, 'results'), { recursive: true });
    writeFileSync(file, `${JSON.stringify(run, null, 2)}\n`);
    const shown = relative(KIT, file);
    console.log(formatRun(run, 'text', shown));
    if (options.record) {
      const results = join(BENCH, 'RESULTS.md');
      const existing = readFileSync(results, 'utf8');
      appendFileSync(results, `${existing.includes(RESULTS_HEADING) ? '' : `\n${RESULTS_INTRO}`}\n${formatRun(run, 'markdown', `\`${shown}\``)}`);
      progress(`appended to ${relative(KIT, results)}`);
    }
  } finally {
    await cleanUp();
  }
}

/** One scenario's requests/s on one instance and on two on the same database (bench/lib/scale.ts). */
async function scale(
  scenario: (typeof SCENARIOS)[number],
  processes: Processes,
  portcullis: PortcullisOptions,
  setup: Parameters<typeof startPortcullis>[2],
  measure: MeasureOptions,
  label: string,
  postgresVersion: string,
): Promise<void> {
  if (scenario.kind !== 'load') throw new Error(`--scale needs a load scenario, not ${scenario.id}`);
  const first = await startPortcullis(processes, portcullis, setup, 'Portcullis 1');
  const second = await startPortcullis(processes, portcullis, setup, 'Portcullis 2');
  for (const target of [first, second]) {
    await scenario.prepare?.(target, measure);
    await closedLoop(scenario.operation, target, { connections: measure.connections, seconds: measure.warmupSeconds });
  }
  const result = await measureScale(scenario.operation, [first, second], measure, progress);
  const file = join(BENCH, 'results', `${new Date().toISOString().slice(0, 19).replaceAll(':', '-')}Z-${label}-scale-${scenario.id}.json`);
  mkdirSync(join(BENCH, 'results'), { recursive: true });
  writeFileSync(file, `${JSON.stringify({ scenario: scenario.id, label, machine: describeMachine(postgresVersion), settings: measure, ...result }, null, 2)}\n`);
  console.log(`${scenario.title}: one instance ${result.oneMedian.toFixed(0)}/s, two instances on one database ${result.twoMedian.toFixed(0)}/s (${result.gain.toFixed(2)}×), medians of ${result.rounds.length} rounds of ${measure.seconds} s; per round: ${result.rounds.map((r) => `${r.one.toFixed(0)} → ${r.two.toFixed(0)}`).join(', ')}. Raw: ${relative(KIT, file)}`);
}

/** One scenario's load on Portcullis under --cpu-prof; prints where the CPU time went. */
async function profile(
  scenario: (typeof SCENARIOS)[number],
  processes: Processes,
  portcullis: PortcullisOptions,
  setup: Parameters<typeof startPortcullis>[2],
  measure: MeasureOptions,
  label: string,
): Promise<void> {
  const folder = mkdtempSync(join(tmpdir(), 'portcullis-profile-'));
  try {
    const target = await startPortcullis(
      processes,
      { ...portcullis, rateLimits: scenario.subject === 'portcullis-limited', nodeOptions: ['--cpu-prof', `--cpu-prof-dir=${folder}`] },
      setup,
    );
    await scenario.prepare?.(target, measure);
    await closedLoop(scenario.operation, target, { connections: measure.connections, seconds: measure.warmupSeconds });
    const seconds = measure.seconds * measure.rounds;
    progress(`profiling ${scenario.id} for ${seconds} s`);
    const monotonicMicros = () => Number(process.hrtime.bigint() / 1000n);
    const from = monotonicMicros();
    const load = await closedLoop(scenario.operation, target, { connections: measure.connections, seconds });
    const window = { from, to: monotonicMicros() };
    await processes.stopAll(); // the profile is written as the process exits
    const written = readdirSync(folder).find((name) => name.endsWith('.cpuprofile'));
    if (!written) throw new Error('Portcullis exited without writing a profile (did it stop on SIGTERM?)');
    const kept = join(BENCH, 'results', `${new Date().toISOString().slice(0, 19).replaceAll(':', '-')}Z-${label}-${scenario.id}.cpuprofile`);
    mkdirSync(join(BENCH, 'results'), { recursive: true });
    writeFileSync(kept, readFileSync(join(folder, written)));
    // Start-up and warm-up are in the file, but not in the summary.
    const summary = summarizeProfile(JSON.parse(readFileSync(kept, 'utf8')) as CpuProfile, portcullis.checkout, window);
    const pct = (share: number) => `${(share * 100).toFixed(1).padStart(5)}%`;
    console.log(`${scenario.title}: ${load.operations} operations in ${load.seconds.toFixed(1)} s (${JSON.stringify(load.statuses)}); ${summary.totalMs.toFixed(0)} ms sampled during the load, idle excluded.`);
    console.log(`Profile: ${relative(KIT, kept)} (open it in Chrome DevTools > Performance).\n\nTop self time by function:`);
    for (const f of summary.functions) console.log(`${pct(f.share)} ${f.ms.toFixed(0).padStart(7)} ms  ${f.name}  ${f.where}`);
    console.log('\nBy package or source folder:');
    for (const a of summary.areas) console.log(`${pct(a.share)} ${a.ms.toFixed(0).padStart(7)} ms  ${a.area}`);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

if (!existsSync('/proc/self/stat')) throw new Error('the bench reads /proc: it runs on Linux');
await main();
