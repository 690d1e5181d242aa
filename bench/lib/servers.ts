import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { HttpClient } from './http-client.ts';
import { memoryOf } from './proc.ts';
import type { BenchSetup, Endpoints, Target } from './target.ts';

// Starting and stopping the servers under test, each in its own process on loopback:
// Portcullis from a checkout (its own `start` and `cli` scripts, so an older or newer
// checkout runs as it would itself), and the floors from this kit's bench/floors/.

const FLOORS = new URL('../floors/', import.meta.url);
const USER_PASSWORD = 'correct horse battery staple, benched';
/** Start-up warnings that say nothing about the run. */
const QUIET = /ExperimentalWarning|--trace-warnings|Unsupported runtime|development-only in-memory adapter/;

export async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** `node ...` from a package.json script, as arguments for this Node binary. */
function nodeScript(checkout: string, name: string): string[] {
  const scripts = (JSON.parse(readFileSync(join(checkout, 'package.json'), 'utf8')) as { scripts?: Record<string, string> }).scripts ?? {};
  const [command, ...args] = (scripts[name] ?? '').trim().split(/\s+/);
  if (command !== 'node') throw new Error(`${checkout}: the "${name}" script must be a plain \`node ...\` command (it is "${scripts[name] ?? ''}")`);
  return args;
}

export class Processes {
  readonly #children: ChildProcess[] = [];

  start(name: string, args: readonly string[], options: { cwd?: string; env?: Record<string, string> } = {}): ChildProcess {
    const child = spawn(process.execPath, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      // stdout (access logs, banners) is discarded as a production log shipper would take it.
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) if (line.trim() && !QUIET.test(line)) process.stderr.write(`[${name}] ${line}\n`);
    });
    this.#children.push(child);
    return child;
  }

  async stop(child: ChildProcess, timeoutMs = 20_000): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const killed = sleep(timeoutMs).then(() => child.kill('SIGKILL'));
    await Promise.race([exited, killed]);
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.#children.map((child) => this.stop(child)));
  }
}

async function waitUntilServing(http: HttpClient, path: string, child: ChildProcess): Promise<void> {
  for (let attempt = 0; attempt < 600; attempt++) {
    if (child.exitCode !== null) throw new Error(`${http.origin}: the server exited with ${child.exitCode}`);
    try {
      await http.request(path);
      return;
    } catch {
      await sleep(100);
    }
  }
  throw new Error(`${http.origin} did not come up`);
}

async function discover(http: HttpClient): Promise<Endpoints> {
  const response = await http.request('/.well-known/openid-configuration');
  const document = JSON.parse(response.body) as Record<string, string>;
  const path = (name: string) => new URL(document[name] ?? '').pathname;
  return { authorization: path('authorization_endpoint'), token: path('token_endpoint'), introspection: path('introspection_endpoint'), jwks: path('jwks_uri') };
}

/**
 * How long a server sits idle before its idle memory is read (the memory scenario): V8's
 * memory reducer first looks 8 s after allocation stops and gives back start-up's young
 * generation and garbage in a few steps (seen at 14-17 s after start with --trace-gc).
 */
export const IDLE_MS = 30_000;

/**
 * Resident memory is read 2 s after a server first answers, and again once it has sat idle
 * for `idleMs` (when given): V8 keeps the young generation start-up grew, and the garbage of
 * loading, until its memory reducer runs, about 8 s after allocation stops and then in a few
 * steps. The figure an idle server keeps is the second; the first is shown beside it.
 */
async function target(fields: Omit<Target, 'idle' | 'state' | 'endpoints'> & { endpoints?: Endpoints }, idleMs = 0): Promise<Target> {
  const firstMs = 2_000;
  await sleep(firstMs);
  const started = memoryOf(fields.pid);
  if (idleMs <= firstMs) return { ...fields, idle: started, state: {} };
  await sleep(idleMs - firstMs);
  return { ...fields, idle: { ...memoryOf(fields.pid), started: started.rss }, state: {} };
}

const HELLO_ENDPOINTS: Endpoints = { authorization: '/auth', token: '/token', introspection: '/token/introspection', jwks: '/jwks' };

/** node:http and Koa hello worlds: any request gets "Hello World". */
export async function startHello(processes: Processes, kind: 'http' | 'koa', setup: BenchSetup, connections: number, idleMs = 0): Promise<Target> {
  const port = await freePort();
  const child = processes.start(`hello-${kind}`, [new URL(`hello-${kind}.mjs`, FLOORS).pathname, String(port)], { env: { NODE_ENV: 'production' } });
  const http = new HttpClient(`http://127.0.0.1:${port}`, connections);
  await waitUntilServing(http, '/', child);
  // The same requests as the authorization servers get, so a POST floor reads the same body.
  return target({ name: kind === 'http' ? 'node:http hello world' : 'Koa hello world', pid: child.pid!, http, setup, endpoints: HELLO_ENDPOINTS }, idleMs);
}

/** The bare engine, with secrets of its own for the same client ids. */
export async function startEngine(processes: Processes, setup: BenchSetup, connections: number, idleMs = 0): Promise<Target> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const child = processes.start('oidc-provider', [new URL('oidc-provider.mjs', FLOORS).pathname], {
    env: { NODE_ENV: 'production', BENCH_FLOOR: JSON.stringify({ port, issuer, setup }) },
  });
  const http = new HttpClient(issuer, connections);
  await waitUntilServing(http, '/.well-known/openid-configuration', child);
  return target({ name: 'bare oidc-provider', pid: child.pid!, http, setup, endpoints: await discover(http) }, idleMs);
}

/** The clients, resource servers and users both authorization servers get. */
export function benchSetup(users: number): BenchSetup {
  const secret = () => randomBytes(24).toString('base64url');
  return {
    service: { id: 'bench-service', secret: secret() },
    resourceServer: { id: 'bench-api', secret: secret() },
    web: { id: 'bench-web', secret: secret(), redirectUri: 'http://127.0.0.1:9/callback' },
    resources: { jwt: 'https://jwt-api.bench.example/', opaque: 'https://opaque-api.bench.example/' },
    scope: 'api:read',
    users: Array.from({ length: users }, (_, i) => ({ email: `bench-${i}@example.com`, password: USER_PASSWORD })),
  };
}

export interface PortcullisOptions {
  readonly checkout: string;
  readonly databaseUrl: string;
  readonly database: string;
  readonly masterSecret: string;
  readonly connections: number;
  /** Rate limits on (the flood scenario) or every RATE_LIMIT_* budget off. */
  readonly rateLimits: boolean;
  /** Extra node options, e.g. --cpu-prof. */
  readonly nodeOptions?: readonly string[];
}

/** Every request budget the checkout knows (from its .env.example), set to off. */
function rateLimitsOff(checkout: string): Record<string, string> {
  const example = readFileSync(join(checkout, '.env.example'), 'utf8');
  const names = [...example.matchAll(/^(RATE_LIMIT_[A-Z_]+)=\S*\//gm)].map((match) => match[1]!);
  return Object.fromEntries(names.map((name) => [name, 'off']));
}

function portcullisEnv(options: PortcullisOptions, port: number): Record<string, string> {
  return {
    NODE_ENV: 'production',
    PORT: String(port),
    HOST: '127.0.0.1',
    ISSUER: `http://127.0.0.1:${port}`,
    DATABASE_URL: options.databaseUrl,
    MASTER_SECRET: options.masterSecret,
    MANAGEMENT_PORT: '0',
    LOG_LEVEL: 'info',
    // The flood scenario sends its addresses as a proxy would.
    ...(options.rateLimits ? { TRUST_PROXY: 'true' } : rateLimitsOff(options.checkout)),
  };
}

/**
 * Seeds the database through the checkout's own CLI (`import`), so the records are
 * exactly what that version writes. Returns the setup with the secrets it created, and
 * how long a second, read-only CLI command took (DESIGN.md: a CLI command within 1 s).
 */
export async function seedPortcullis(options: PortcullisOptions, setup: BenchSetup): Promise<{ setup: BenchSetup; cliSeconds: number }> {
  const folder = mkdtempSync(join(tmpdir(), 'portcullis-bench-'));
  const file = join(folder, 'seed.json');
  const { jwt, opaque } = setup.resources;
  const declaration = {
    resources: [
      { indicator: jwt, name: 'Bench JWT API', scopes: [{ name: setup.scope }], accessTokenFormat: 'jwt', signingAlg: 'ES256' },
      { indicator: opaque, name: 'Bench opaque API', scopes: [{ name: setup.scope }], accessTokenFormat: 'opaque' },
    ],
    clients: [
      { clientId: setup.service.id, type: 'service', name: 'Bench service', resources: [jwt, opaque], scopes: [setup.scope] },
      { clientId: setup.resourceServer.id, type: 'resource-server', name: 'Bench API', resources: [jwt, opaque] },
      { clientId: setup.web.id, type: 'web', name: 'Bench web', redirectUris: [setup.web.redirectUri], resources: [jwt], scopes: ['openid', 'offline_access', setup.scope] },
    ],
    users: setup.users.map((user, i) => ({ email: user.email, name: `Bench ${i}`, passwordEnv: 'BENCH_USER_PASSWORD' })),
  };
  writeFileSync(file, JSON.stringify(declaration));
  const env = { ...portcullisEnv(options, 0), LOG_LEVEL: 'warn', BENCH_USER_PASSWORD: USER_PASSWORD };
  try {
    const output = await runCli(options.checkout, env, ['--json', 'import', file]);
    const items = (JSON.parse(output) as { items: { id: string; client_secret?: string }[] }).items;
    const secretOf = (id: string) => {
      const secret = items.find((item) => item.id === id)?.client_secret;
      if (!secret) throw new Error(`the import printed no secret for ${id}`);
      return secret;
    };
    const started = performance.now();
    await runCli(options.checkout, env, ['--json', 'clients', 'list']);
    const cliSeconds = (performance.now() - started) / 1000;
    return {
      setup: {
        ...setup,
        service: { ...setup.service, secret: secretOf(setup.service.id) },
        resourceServer: { ...setup.resourceServer, secret: secretOf(setup.resourceServer.id) },
        web: { ...setup.web, secret: secretOf(setup.web.id) },
      },
      cliSeconds,
    };
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

async function runCli(checkout: string, env: Record<string, string>, args: readonly string[]): Promise<string> {
  const child = spawn(process.execPath, [...nodeScript(checkout, 'cli'), ...args], { cwd: checkout, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`portcullis ${args.join(' ')} exited with ${code}: ${stderr}`);
  return stdout;
}

export async function startPortcullis(processes: Processes, options: PortcullisOptions, setup: BenchSetup, name = 'Portcullis', idleMs = 0): Promise<Target> {
  const port = await freePort();
  const child = processes.start(name, [...(options.nodeOptions ?? []), ...nodeScript(options.checkout, 'start')], { cwd: options.checkout, env: portcullisEnv(options, port) });
  const http = new HttpClient(`http://127.0.0.1:${port}`, options.connections);
  await waitUntilServing(http, '/.well-known/openid-configuration', child);
  return target({ name, pid: child.pid!, http, database: options.database, setup, endpoints: await discover(http) }, idleMs);
}
