import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// The `portcullis` command as an operator runs it: a real process, against a database
// URL. (The embedded test database serves one connection: close other pools first.)

export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/**
 * The installed entry points, as `npx portcullis` and `npm start` run them: the compiled
 * code, rebuilt first if src/ changed (scripts/ensure-built.mjs; run-tests.mjs builds before
 * a run, so files running at once never build together). They start in about half the
 * time of transpiling src/ with tsx, and a test spawns hundreds of them.
 */
export const PORTCULLIS_BIN = fileURLToPath(new URL('../../bin/portcullis.js', import.meta.url));
export const SERVER_ENTRY = fileURLToPath(new URL('../../scripts/start.mjs', import.meta.url));

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliEnvironment {
  readonly databaseUrl: string;
  readonly poolMax: number;
  readonly masterSecret: string;
  readonly dataDir: string;
  readonly issuer?: string;
}

export function cliEnv(target: CliEnvironment, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DATABASE_URL: target.databaseUrl,
    DATABASE_POOL_MAX: String(target.poolMax),
    MASTER_SECRET: target.masterSecret,
    DATA_DIR: target.dataDir,
    ISSUER: target.issuer ?? 'http://localhost:3000',
    NODE_ENV: 'test',
    LOG_LEVEL: undefined,
    ...extra,
  };
}

/** Starts `portcullis <args>`; the caller reads its streams. */
export function spawnCli(target: CliEnvironment, args: readonly string[]): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, [PORTCULLIS_BIN, ...args], { cwd: PROJECT_ROOT, env: cliEnv(target) });
}

/** Runs `portcullis <args>` to its exit. */
export function runCli(target: CliEnvironment, args: readonly string[], input = ''): Promise<CliResult> {
  return settle(spawnCli(target, args), input);
}

/** Feeds a spawned command its input and collects its output until it exits (killed after a minute). */
export async function settle(child: ChildProcessWithoutNullStreams, input = ''): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(input);
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  clearTimeout(timer);
  return { code, stdout, stderr };
}
