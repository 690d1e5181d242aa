import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { decodeJwt } from 'jose';

import { runBrowser } from '../helpers/browserless-login.ts';
import { PORTCULLIS_BIN, PROJECT_ROOT, SERVER_ENTRY } from '../helpers/run-cli.ts';
import { createTestDatabase, TEST_ENGINE, type TestDatabase } from '../helpers/test-database.ts';

// The README's first flow ends somewhere: with the server running (`npm start`, a real
// process), `portcullis demo --serve` serves its own redirect URI; a person signs in at the
// URL it printed (driven here over HTTP, login and consent pages included); the demo
// exchanges the code with PKCE and prints tokens and curl commands that work as printed.

let dataDir: string;
let port: number;
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

let managementPort: number;
function env(): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), MANAGEMENT_PORT: String(managementPort), ISSUER: issuer, DATA_DIR: dataDir, NODE_ENV: 'development' };
  delete base.DATABASE_URL;
  delete base.LOG_LEVEL;
  if (database) base.DATABASE_URL = database.url;
  return base;
}

/** Resolves with everything written so far once `pattern` appears in it. */
function waitFor(child: ChildProcess, pattern: RegExp, seen: { text: string }): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}:\n${seen.text}`)), 60_000);
    const check = () => {
      const match = pattern.exec(seen.text);
      if (match) {
        clearTimeout(timer);
        child.stdout?.off('data', check);
        resolve(match);
      }
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before ${pattern}:\n${seen.text}`));
    });
    check();
  });
}

before(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'portcullis-demo-serve-'));
  port = await freePort();
  managementPort = await freePort();
  issuer = `http://127.0.0.1:${port}`;
  if (TEST_ENGINE === 'postgres') database = await createTestDatabase();
  server = spawn(process.execPath, [SERVER_ENTRY], { cwd: PROJECT_ROOT, env: env() });
  const output = { text: '' };
  server.stderr?.on('data', (chunk: Buffer) => (output.text += chunk.toString()));
  server.stdout?.on('data', (chunk: Buffer) => (output.text += chunk.toString()));
  await waitFor(server, new RegExp(`Portcullis is listening on http://127\\.0\\.0\\.1:${port}`), output);
});

after(async () => {
  if (server?.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((resolve) => server.once('exit', resolve));
  }
  await database?.destroy();
  await rm(dataDir, { recursive: true, force: true });
});

test('demo --serve takes a sign-in to its end: it serves the callback, exchanges the code, and prints tokens and curl commands that work', async () => {
  const callbackPort = await freePort();
  const demo = spawn(process.execPath, [PORTCULLIS_BIN, 'demo', '--serve', '--callback-port', String(callbackPort)], { cwd: PROJECT_ROOT, env: env() });
  const out = { text: '' };
  let stderr = '';
  demo.stdout.on('data', (chunk: Buffer) => (out.text += chunk.toString()));
  demo.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => demo.once('exit', resolve));
  try {
    const [, url] = await waitFor(demo, /Sign in: open this URL[^\n]*\n\s+(\S+)\n/, out);
    await waitFor(demo, /Waiting for the sign-in to come back/, out);
    const password = /^\s+password:\s+(\S+)$/m.exec(out.text)?.[1];
    assert.ok(password, out.text);

    // The person signs in and consents; the browser is sent to the demo's own listener.
    const browser = await runBrowser(new URL(url!), { email: 'demo@example.com', password });
    assert.equal(`${browser.url.origin}${browser.url.pathname}`, `http://localhost:${callbackPort}/callback`);
    const code = browser.url.searchParams.get('code');
    assert.ok(code);
    const landing = await fetch(browser.url);
    assert.equal(landing.status, 200);
    const page = await landing.text();
    assert.match(page, /Your tokens are in the terminal/);
    assert.ok(!page.includes(code), 'the browser never sees the code again, nor a token');

    assert.equal(await exited, 0, `demo failed: ${stderr}\n${out.text}`);
  } finally {
    if (demo.exitCode === null) demo.kill('SIGTERM');
  }
  const text = out.text;
  assert.match(text, /Signed in as demo@example\.com \(sub \S+\); the ID token's signature, issuer and audience check out\./);
  assert.ok(!text.includes('<client_secret>') && !text.includes('<code>'), 'no placeholder left in what it printed');

  // The curl commands, run as printed (their values, through fetch).
  const userinfo = /curl -H 'Authorization: Bearer (\S+)' (\S+)\n/.exec(text);
  assert.ok(userinfo, text);
  const me = await fetch(userinfo[2]!, { headers: { authorization: `Bearer ${userinfo[1]}` } });
  assert.equal(me.status, 200);
  assert.equal(((await me.json()) as { email: string }).email, 'demo@example.com');

  const refresh = /curl -u '(demo-web):(\S+)' -d grant_type=refresh_token -d refresh_token=(\S+) (\S+)\n/.exec(text);
  assert.ok(refresh, text);
  const refreshed = await fetch(refresh[4]!, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${refresh[1]}:${refresh[2]}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refresh[3]! }),
  });
  assert.equal(refreshed.status, 200, await refreshed.clone().text());

  // The token for the demo API it printed is a JWT for that API; its curl gets another.
  const apiToken = /A token for the demo API[^\n]*\n\s+access_token:\s+(\S+)/.exec(text)?.[1];
  assert.ok(apiToken, text);
  const claims = decodeJwt(apiToken);
  assert.equal(claims.aud, 'https://api.example.com');
  assert.equal(claims.scope, 'read write');
  const service = /curl -u '(demo-service):(\S+)' -d grant_type=client_credentials -d resource=(\S+) -d 'scope=([^']+)' (\S+)\n/.exec(text);
  assert.ok(service, text);
  const another = await fetch(service[5]!, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${service[1]}:${service[2]}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource: service[3]!, scope: service[4]! }),
  });
  assert.equal(another.status, 200);
});
