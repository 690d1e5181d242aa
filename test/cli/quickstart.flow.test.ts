import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import * as oidc from 'openid-client';

import { runBrowser } from '../helpers/browserless-login.ts';
import { PROJECT_ROOT } from '../helpers/run-cli.ts';
import { createTestDatabase, TEST_ENGINE, type TestDatabase } from '../helpers/test-database.ts';

// The README's promise, end to end with real processes: start the server as `npm start`
// does (`node scripts/start.mjs`: the compiled server, built first if src/ changed), set up a
// user and a client with the `portcullis` command (bin/portcullis.js) while it runs,
// and complete an authorization code + PKCE flow with openid-client. On the embedded
// database by default, on Postgres with TEST_DATABASE=postgres.

let dataDir: string;
let port: number;
let managementPort: number;
let issuer: string;
let database: TestDatabase | undefined;
let server: ChildProcess;

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port: free } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return free;
}

function env(): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port),
    MANAGEMENT_PORT: String(managementPort),
    ISSUER: issuer,
    DATA_DIR: dataDir,
    NODE_ENV: 'development',
  };
  delete base.DATABASE_URL;
  delete base.LOG_LEVEL;
  if (database) base.DATABASE_URL = database.url;
  return base;
}

function run(args: string[], input = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, args, { cwd: PROJECT_ROOT, env: env() });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(input);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

before(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'portcullis-quickstart-'));
  port = await freePort();
  managementPort = await freePort();
  issuer = `http://127.0.0.1:${port}`;
  if (TEST_ENGINE === 'postgres') database = await createTestDatabase();
  server = spawn(process.execPath, ['scripts/start.mjs'], { cwd: PROJECT_ROOT, env: env() });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start:\n${output}`)), 60_000);
    const watch = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes(`Portcullis is listening on http://127.0.0.1:${port}`)) {
        clearTimeout(timer);
        resolve();
      }
    };
    server.stdout?.on('data', watch);
    server.stderr?.on('data', watch);
    server.once('exit', (code) => reject(new Error(`the server exited with ${code}:\n${output}`)));
  });
});

after(async () => {
  if (server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((resolve) => server.once('exit', resolve));
  }
  await database?.destroy();
  await rm(dataDir, { recursive: true, force: true });
});

test(`a new user gets a running issuer, creates a user and a client with the CLI, and signs in (${TEST_ENGINE})`, async () => {
  const user = await run(['bin/portcullis.js', 'users', 'create', '--email', 'first@example.com', '--name', 'First User'], 'first user password\n');
  assert.equal(user.code, 0, user.stderr);
  const created = await run([
    'bin/portcullis.js',
    'clients',
    'create',
    '--type',
    'web',
    '--name',
    'My app',
    '--redirect-uri',
    'http://localhost:8080/callback',
    '--json',
  ]);
  assert.equal(created.code, 0, created.stderr);
  const { client_id: clientId, client_secret: clientSecret } = JSON.parse(created.stdout) as { client_id: string; client_secret: string };

  const configuration = await oidc.discovery(new URL(issuer), clientId, undefined, oidc.ClientSecretBasic(clientSecret), {
    execute: [oidc.allowInsecureRequests],
  });
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(configuration, {
    redirect_uri: 'http://localhost:8080/callback',
    scope: 'openid email offline_access',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    prompt: 'consent',
  });
  const browser = await runBrowser(url, { email: 'first@example.com', password: 'first user password' });
  const tokens = await oidc.authorizationCodeGrant(configuration, browser.url, { pkceCodeVerifier: verifier, expectedState: state });
  assert.ok(tokens.claims()?.sub);
  const refreshed = await oidc.refreshTokenGrant(configuration, tokens.refresh_token!);
  const userinfo = await oidc.fetchUserInfo(configuration, refreshed.access_token, tokens.claims()!.sub);
  assert.equal(userinfo.email, 'first@example.com');
});

test('a second server on the same data folder or port refuses to start with one clear line', async () => {
  const second = await run(['scripts/start.mjs']);
  assert.equal(second.code, 1);
  const message = second.stderr.trim().split('\n').filter((line) => line.startsWith('portcullis:'));
  assert.equal(message.length, 1, second.stderr);
  assert.match(message[0]!, TEST_ENGINE === 'embedded' ? /in use by another Portcullis process/ : /EADDRINUSE|in use|listen/);
  assert.equal(server.exitCode, null, 'the first server keeps running');
});

test('SIGTERM stops the server cleanly', async () => {
  server.kill('SIGTERM');
  const code = await new Promise<number | null>((resolve) => server.once('exit', resolve));
  assert.equal(code, 0);
});
