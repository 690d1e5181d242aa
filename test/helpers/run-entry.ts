import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { envSchema } from '../../src/config/schema.ts';
import { PORTCULLIS_BIN, SERVER_ENTRY, settle, type CliResult } from './run-cli.ts';

// The two entry points as an operator starts them, from any working directory (so that a
// test's own .env is the one read): `npm start` (scripts/start.mjs) and `npx portcullis`
// (bin/portcullis.js). Only the variables a test gives reach them: Portcullis settings of
// the shell running the tests are removed.

const ENTRIES = { server: SERVER_ENTRY, cli: PORTCULLIS_BIN };

export function entryEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(envSchema.shape)) delete base[name];
  return { ...base, NODE_ENV: 'test', ...env };
}

export function spawnEntry(
  entry: keyof typeof ENTRIES,
  options: { cwd: string; env: Record<string, string | undefined>; args?: readonly string[] },
): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, [ENTRIES[entry], ...(options.args ?? [])], { cwd: options.cwd, env: entryEnv(options.env) });
}

/** Runs an entry to its exit (killed after a minute, so a hang fails the test rather than the run). */
export function runEntry(
  entry: keyof typeof ENTRIES,
  options: { cwd: string; env: Record<string, string | undefined>; args?: readonly string[]; input?: string },
): Promise<CliResult> {
  return settle(spawnEntry(entry, options), options.input);
}

/** Starts the server entry and resolves once it listens; the caller stops it (SIGTERM). */
export async function startServerEntry(options: { cwd: string; env: Record<string, string | undefined> }): Promise<ChildProcessWithoutNullStreams> {
  const child = spawnEntry('server', options);
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start:\n${output}`)), 60_000);
    const watch = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Portcullis is listening on')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', watch);
    child.stderr.on('data', watch);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited with ${code}:\n${output}`));
    });
  });
  return child;
}

export async function stopServerEntry(child: ChildProcessWithoutNullStreams): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

export function temporaryFolder(prefix: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), `portcullis-${prefix}-`));
}

/** A listener holding a free port on 127.0.0.1, for tests of a port already in use. */
export async function holdPort(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as { port: number }).port, server };
}

/** Ports this process handed out: the kernel may offer a just-closed port again. */
const handedOut = new Set<number>();

/** A port free now and not handed out before in this process (a cluster takes several at once). */
export async function freePort(): Promise<number> {
  for (;;) {
    const { port, server } = await holdPort();
    await new Promise((resolve) => server.close(resolve));
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

/** The one line a failed start prints on stderr. */
export function onlyLine(stderr: string): string {
  const lines = stderr.trimEnd().split('\n');
  if (lines.length !== 1) throw new Error(`expected one line on stderr, got ${lines.length}:\n${stderr}`);
  return lines[0] ?? '';
}
