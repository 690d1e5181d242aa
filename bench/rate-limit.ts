// The cost of abuse limits, measured (not a test): `node --import tsx bench/rate-limit.ts`.
//
// 1. CPU per rejected (429) request against CPU per hello-world Koa response, in the same
//    run: each server is its own process; its CPU is read from /proc/<pid>/stat around a
//    fixed number of requests. DESIGN.md's target: a 429 costs at most 2x the hello world.
// 2. Legitimate password logins and client-credentials tokens while one address floods bad
//    logins at 10x its budget, and while it floods as fast as it can, against a quiet
//    baseline.
//
// The server is the real one (`src/main.ts`, NODE_ENV=production: OWASP argon2id, JSON
// logs, default limits) on a fresh Postgres database (BENCH_POSTGRES_URL, default the
// local server), behind "a proxy" (TRUST_PROXY=true) so addresses come from
// X-Forwarded-For. Every request goes to 127.0.0.1; every phase is bounded in requests
// and seconds. Prints a markdown report (bench/RESULTS.md keeps the recorded ones).

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

import autocannon, { type Result } from 'autocannon';
import pg from 'pg';

import { openRuntime } from '../src/boot.ts';
import { loadConfig } from '../src/config/index.ts';
import { createLogger } from '../src/observability/logger.ts';
import { authorizationRequest, CookieJar, csrfToken, send } from '../test/helpers/browserless-login.ts';

const POSTGRES = process.env.BENCH_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const MASTER_SECRET = randomBytes(32).toString('base64url');
const REDIRECT = 'http://localhost:9/callback';
const USER = { email: 'bench@example.com', password: 'a long bench password 123' };
const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);
const CPU_REQUESTS = Number(process.env.BENCH_CPU_REQUESTS ?? 40_000);
const PHASE_SECONDS = Number(process.env.BENCH_PHASE_SECONDS ?? 20);
const TICKS_PER_SECOND = 100; // getconf CLK_TCK on Linux

const children: ChildProcess[] = [];

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** User + system CPU seconds a process has used (Linux /proc). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

function start(args: string[], env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.on('data', (chunk: Buffer) => {
    const text = chunk.toString();
    if (!/Unsupported runtime/.test(text)) process.stderr.write(text);
  });
  children.push(child);
  return child;
}

async function waitFor(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      const response = await fetch(url);
      await response.body?.cancel();
      return;
    } catch {
      await sleep(100);
    }
  }
  throw new Error(`${url} did not come up`);
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((p / 100) * values.length))]!;
const ms = (value: number) => `${value.toFixed(1)} ms`;
const us = (value: number) => `${(value * 1e6).toFixed(1)} µs`;

function statuses(result: Result): string {
  return Object.entries(result.statusCodeStats)
    .map(([code, stat]) => `${code}×${stat.count}`)
    .join(', ');
}

// --- the scenario -------------------------------------------------------------------------

async function main(): Promise<void> {
  const admin = new pg.Client({ connectionString: POSTGRES });
  await admin.connect();
  const database = `portcullis_bench_${randomBytes(4).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${database}`);
  const databaseUrl = Object.assign(new URL(POSTGRES), { pathname: `/${database}` }).toString();
  const port = await freePort();
  const issuer = `http://localhost:${port}`;
  const env = {
    NODE_ENV: 'production',
    PORT: String(port),
    HOST: '127.0.0.1',
    ISSUER: issuer,
    DATABASE_URL: databaseUrl,
    MASTER_SECRET,
    MANAGEMENT_PORT: '0',
    TRUST_PROXY: 'true',
    LOG_LEVEL: 'info',
  };

  try {
    // The data: one person, a first-party web app (no consent page), a service client.
    const runtime = await openRuntime(loadConfig(env), createLogger({ level: 'silent' }));
    await runtime.services.accounts.create({ ...USER, name: 'Bench' });
    const web = await runtime.services.clients.create({ type: 'web', name: 'Bench web', redirectUris: [REDIRECT], firstParty: true });
    const service = await runtime.services.clients.create({ type: 'service', name: 'Bench service' });
    await runtime.close();
    const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
    const webAuth = basic(web.client.clientId, web.clientSecret!);
    const serviceAuth = basic(service.client.clientId, service.clientSecret!);

    const portcullis = start(['src/main.ts'], env);
    const helloPort = await freePort();
    const hello = start(['bench/floors/hello-koa.mjs', String(helloPort)], {});
    await Promise.all([waitFor(`${issuer}/.well-known/openid-configuration`), waitFor(`http://127.0.0.1:${helloPort}/`)]);

    // ---- 1. CPU of a refusal --------------------------------------------------------------
    const cpuRuns: { hello: number; helloPost: number; discovery429: number; token429: number }[] = [];
    const checks: string[] = [];
    for (let run = 0; run < REPEATS; run++) {
      const measure = async (pid: number, options: Parameters<typeof autocannon>[0]) => {
        const before = cpuSeconds(pid);
        const result = await autocannon({ connections: 10, amount: CPU_REQUESTS, ...options });
        return { seconds: cpuSeconds(pid) - before, result };
      };
      // Every measured cell follows a warm-up of the same request (JIT, connection pools).
      await autocannon({ url: `http://127.0.0.1:${helloPort}/`, connections: 10, amount: 5_000 });
      const helloRun = await measure(hello.pid!, { url: `http://127.0.0.1:${helloPort}/` });
      // The same for a POST with the token request's body (a fair floor for the /token 429).
      const helloPostOptions = { url: `http://127.0.0.1:${helloPort}/`, method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' };
      await autocannon({ ...helloPostOptions, connections: 10, amount: 5_000 });
      const helloPost = await measure(hello.pid!, helloPostOptions);
      // A fresh address per run, its budget spent first (RATE_LIMIT_IP, default 1200/min).
      const address = `198.18.${run}.1`;
      await autocannon({ url: `${issuer}/.well-known/openid-configuration`, connections: 10, amount: 6_000, headers: { 'x-forwarded-for': address } });
      const discovery = await measure(portcullis.pid!, { url: `${issuer}/.well-known/openid-configuration`, headers: { 'x-forwarded-for': address } });
      const tokenAddress = `198.18.${run}.2`;
      const tokenOptions = {
        url: `${issuer}/token`,
        method: 'POST',
        headers: { 'x-forwarded-for': tokenAddress, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials',
      };
      await autocannon({ ...tokenOptions, connections: 10, amount: 5_000 });
      const token = await measure(portcullis.pid!, tokenOptions);
      checks.push(`run ${run + 1}: hello ${statuses(helloRun.result)}; discovery ${statuses(discovery.result)}; token ${statuses(token.result)}`);
      cpuRuns.push({
        hello: helloRun.seconds / helloRun.result.requests.total,
        helloPost: helloPost.seconds / helloPost.result.requests.total,
        discovery429: discovery.seconds / discovery.result.requests.total,
        token429: token.seconds / token.result.requests.total,
      });
    }

    // ---- 2. Legitimate traffic under a flood ----------------------------------------------
    async function legitimateLogin(ip: string): Promise<{ login: number; token: number }> {
      const jar = new CookieJar();
      const headers = { 'x-forwarded-for': ip, accept: 'text/html' };
      const request = authorizationRequest(issuer, { client_id: web.client.clientId, redirect_uri: REDIRECT });
      let response = await send(jar, request.url, { headers });
      let url = new URL(response.headers.get('location')!, issuer);
      response = await send(jar, url, { headers });
      const html = await response.text();
      const action = new URL(/action="(\/interaction\/[^"]+\/login)"/.exec(html)![1]!, issuer);
      const started = performance.now();
      response = await send(jar, action, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ csrf: csrfToken(html), ...USER }).toString(),
      });
      const login = performance.now() - started;
      if (response.status !== 303) throw new Error(`login answered ${response.status}`);
      for (let step = 0; step < 5; step++) {
        url = new URL(response.headers.get('location')!, url);
        if (url.href.startsWith(REDIRECT)) break;
        response = await send(jar, url, { headers });
      }
      const code = url.searchParams.get('code');
      if (!code) throw new Error(`no code: ${url.href}`);
      const tokenStarted = performance.now();
      const exchanged = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: { authorization: webAuth, 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: request.verifier }),
      });
      await exchanged.body?.cancel();
      if (exchanged.status !== 200) throw new Error(`code exchange answered ${exchanged.status}`);
      return { login, token: performance.now() - tokenStarted };
    }

    /** The flood's login form: a real interaction and CSRF token, so its guesses are real. */
    async function floodForm(ip: string) {
      const jar = new CookieJar();
      const headers = { 'x-forwarded-for': ip, accept: 'text/html' };
      let response = await send(jar, authorizationRequest(issuer, { client_id: web.client.clientId, redirect_uri: REDIRECT }).url, { headers });
      response = await send(jar, new URL(response.headers.get('location')!, issuer), { headers });
      const html = await response.text();
      return {
        url: new URL(/action="(\/interaction\/[^"]+\/login)"/.exec(html)![1]!, issuer).href,
        headers: { ...headers, cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ csrf: csrfToken(html), email: USER.email, password: 'a wrong guess' }).toString(),
      };
    }

    // (BENCH_ONLY=cpu skips part 2.)
    // People who signed in from their addresses before (so those are known addresses), a
    // few of them, so that no address exceeds its own login budget (RATE_LIMIT_LOGIN).
    const homes = ['192.0.2.50', '192.0.2.51', '192.0.2.52', '192.0.2.53', '192.0.2.54'];
    if (process.env.BENCH_ONLY !== 'cpu') for (const home of homes) await legitimateLogin(home);

    interface Phase {
      name: string;
      logins: { login: number; token: number }[];
      tokens: Result;
      flood?: Result;
      cpu: number;
      seconds: number;
    }
    async function phase(name: string, flood?: { rate?: number; connections: number; ip: string }): Promise<Phase> {
      const cpuBefore = cpuSeconds(portcullis.pid!);
      const started = performance.now();
      const form = flood && (await floodForm(flood.ip));
      const floodRun = form
        ? autocannon({ url: form.url, method: 'POST', headers: form.headers, body: form.body, connections: flood.connections, duration: PHASE_SECONDS, ...(flood.rate && { overallRate: flood.rate }) })
        : undefined;
      const tokenRun = autocannon({
        url: `${issuer}/token`,
        method: 'POST',
        headers: { authorization: serviceAuth, 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': '192.0.2.60' },
        body: 'grant_type=client_credentials',
        connections: 1,
        overallRate: 8, // within the per-address token budget (600/min)
        duration: PHASE_SECONDS,
      });
      const logins: { login: number; token: number }[] = [];
      const deadline = performance.now() + PHASE_SECONDS * 1000 - 1500;
      while (performance.now() < deadline && logins.length < 40) {
        logins.push(await legitimateLogin(homes[logins.length % homes.length]!));
        await sleep(250);
      }
      const [tokens, floodResult] = await Promise.all([tokenRun, floodRun]);
      return { name, logins, tokens, ...(floodResult && { flood: floodResult }), cpu: cpuSeconds(portcullis.pid!) - cpuBefore, seconds: (performance.now() - started) / 1000 };
    }

    const phases = process.env.BENCH_ONLY === 'cpu' ? [] : [
      await phase('quiet (no flood)'),
      await phase('flood at 10x the login budget (10/s from one address; RATE_LIMIT_LOGIN=60/1m)', { rate: 10, connections: 2, ip: '203.0.113.66' }),
      await phase('flood as fast as one client can (16 connections, one address)', { connections: 16, ip: '203.0.113.67' }),
    ];

    // ---- report ------------------------------------------------------------------------
    const cpuModel = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
    const lines: string[] = [];
    lines.push(`## Run of ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`, '');
    lines.push(`Machine: ${os.cpus().length} CPUs (nproc), ${cpuModel}, ${Math.round(os.totalmem() / 2 ** 30)} GiB; Node ${process.version}; Postgres at ${new URL(POSTGRES).host}.`, '');
    lines.push('### CPU per request (server process, user + system, /proc)', '');
    lines.push('| run | hello GET | hello POST | 429 at discovery (GET) | 429 at /token (POST form) | discovery 429 / hello GET | token 429 / hello POST |');
    lines.push('| --- | --- | --- | --- | --- | --- | --- |');
    cpuRuns.forEach((run, index) => {
      lines.push(`| ${index + 1} | ${us(run.hello)} | ${us(run.helloPost)} | ${us(run.discovery429)} | ${us(run.token429)} | ${(run.discovery429 / run.hello).toFixed(2)}× | ${(run.token429 / run.helloPost).toFixed(2)}× |`);
    });
    lines.push(
      `| median | ${us(median(cpuRuns.map((r) => r.hello)))} | ${us(median(cpuRuns.map((r) => r.helloPost)))} | ${us(median(cpuRuns.map((r) => r.discovery429)))} | ${us(median(cpuRuns.map((r) => r.token429)))} | ${median(cpuRuns.map((r) => r.discovery429 / r.hello)).toFixed(2)}× | ${median(cpuRuns.map((r) => r.token429 / r.helloPost)).toFixed(2)}× |`,
      '',
    );
    lines.push(`${CPU_REQUESTS} measured requests per cell, after the address's budget was spent. Responses: ${checks.join('; ')}.`, '');
    lines.push('### Legitimate traffic while one address floods bad logins', '');
    lines.push('| phase | logins | login POST p50 / p95 / max | code exchange p50 / p95 | client credentials (8/s) p50 / p99 / max | flood responses | server CPU |');
    lines.push('| --- | --- | --- | --- | --- | --- | --- |');
    for (const p of phases) {
      const login = p.logins.map((l) => l.login);
      const token = p.logins.map((l) => l.token);
      lines.push(
        `| ${p.name} | ${p.logins.length} | ${ms(percentile(login, 50))} / ${ms(percentile(login, 95))} / ${ms(Math.max(...login))} | ${ms(percentile(token, 50))} / ${ms(percentile(token, 95))} | ${p.tokens.latency.p50} / ${p.tokens.latency.p99} / ${p.tokens.latency.max} ms (${statuses(p.tokens)}) | ${p.flood ? `${p.flood.requests.total} in ${PHASE_SECONDS} s: ${statuses(p.flood)}` : '-'} | ${((p.cpu / p.seconds) * 100).toFixed(0)}% of a core |`,
      );
    }
    console.log(lines.join('\n'));
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await sleep(1_500);
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => {});
    await admin.end();
  }
}

await main();
