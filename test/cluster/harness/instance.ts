import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { PROJECT_ROOT } from '../../helpers/run-cli.ts';
import { entryEnv } from '../../helpers/run-entry.ts';

// One Portcullis server process as `npm start` runs it: the compiled server (dist/main.js,
// built once by the harness), its own working folder (no .env of the checkout is read),
// only the environment the cluster gives. Killing it is the test's business: SIGKILL is a
// crash, SIGTERM a deployment's stop.

const SERVER = path.join(PROJECT_ROOT, 'dist/main.js');
/** Enough for a fault test's outage (every 503 is an access-log line at warn) to keep its first lines. */
const KEEP_LOG_CHARS = 4_000_000;

export interface InstanceOptions {
  readonly name: string;
  readonly cwd: string;
  readonly port: number;
  readonly managementPort: number;
  readonly env: Readonly<Record<string, string>>;
}

export class Instance {
  readonly name: string;
  readonly port: number;
  readonly managementUrl: string;
  readonly #options: InstanceOptions;
  #child: ChildProcess | undefined;
  /** The output in chunks, oldest first, about KEEP_LOG_CHARS in all (no copy per chunk). */
  readonly #chunks: string[] = [];
  #kept = 0;

  constructor(options: InstanceOptions) {
    this.#options = options;
    this.name = options.name;
    this.port = options.port;
    this.managementUrl = `http://127.0.0.1:${options.managementPort}`;
  }

  /** The instance's own address, bypassing nginx. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Everything the process wrote (about the last KEEP_LOG_CHARS characters), across restarts. */
  output(): string {
    return this.#chunks.join('');
  }

  /** Spawns the process; resolves once readiness answers 200 (or throws with its output). */
  async start(timeoutMs = 90_000): Promise<void> {
    if (this.running) throw new Error(`${this.name} is already running`);
    const { port, managementPort, env, cwd } = this.#options;
    const child = spawn(process.execPath, [SERVER], {
      cwd,
      env: entryEnv({ ...env, PORT: String(port), MANAGEMENT_PORT: String(managementPort) }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child = child;
    const keep = (chunk: Buffer) => {
      const text = chunk.toString();
      this.#chunks.push(text);
      this.#kept += text.length;
      while (this.#kept > KEEP_LOG_CHARS && this.#chunks.length > 1) this.#kept -= this.#chunks.shift()!.length;
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    await this.waitReady(timeoutMs);
  }

  async waitReady(timeoutMs = 90_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`${this.name} exited during start:\n${this.output().slice(-5_000)}`);
      const ready = await fetch(`${this.managementUrl}/readyz`).then(
        (response) => response.ok,
        () => false,
      );
      if (ready) return;
      await sleep(100);
    }
    throw new Error(`${this.name} was not ready within ${timeoutMs} ms:\n${this.output().slice(-5_000)}`);
  }

  /** Sends a signal and waits for the exit; the exit code (null when killed by the signal). */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const child = this.#child;
    if (!child || !this.running) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill(signal);
    return exited;
  }

  /** Resident set size in KiB, from /proc (Linux). */
  rssKiB(): number {
    const pid = this.pid;
    if (pid === undefined || !this.running) return Number.NaN;
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1] ?? Number.NaN);
  }
}
