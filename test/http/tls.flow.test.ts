import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { authorizationRequest, csrfToken } from '../helpers/browserless-login.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// HTTPS posture: built-in TLS (TLS_CERT_FILE, TLS_KEY_FILE) with a self-signed certificate
// made here with openssl; every response sends HSTS and every cookie of a sign-in is Secure.
// And without TRUST_PROXY, what a client writes in X-Forwarded-* changes nothing.

const REDIRECT = 'https://app.example/callback';
const ANN = { email: 'ann@example.com', password: 'ann has a long password' };

let folder: string;
let ca: Buffer;
let server: TestServer;
let clientId: string;

before(async () => {
  folder = mkdtempSync(path.join(os.tmpdir(), 'portcullis-tls-'));
  const [cert, key] = [path.join(folder, 'cert.pem'), path.join(folder, 'key.pem')];
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert,
  ], { stdio: 'ignore' });
  ca = readFileSync(cert);
  server = await startTestServer({ TLS_CERT_FILE: cert, TLS_KEY_FILE: key, LOG_LEVEL: 'warn' });
  await server.services.accounts.create({ ...ANN, name: 'Ann' });
  clientId = (await server.services.clients.create({ type: 'web', name: 'Web', redirectUris: [REDIRECT] })).client.clientId;
});

after(async () => {
  await server?.close();
  if (folder) rmSync(folder, { recursive: true, force: true });
});

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** One https request trusting only the test's own certificate. */
function https(url: URL, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers, ca }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('built-in TLS', () => {
  test('the issuer is https and discovery is served over TLS with HSTS', async () => {
    assert.match(server.issuer, /^https:\/\/127\.0\.0\.1:\d+$/);
    const answer = await https(new URL('/.well-known/openid-configuration', server.issuer));
    assert.equal(answer.status, 200);
    assert.equal((JSON.parse(answer.body) as { issuer: string }).issuer, server.issuer);
    assert.match(String(answer.headers['strict-transport-security']), /max-age=\d+/);
  });

  test('a whole sign-in over TLS sets only Secure, HttpOnly cookies and sends HSTS on every hop', async () => {
    const cookies = new Map<string, string>();
    const setCookies: string[] = [];
    const hops: Answer[] = [];
    const go = async (url: URL, init: { method?: string; body?: string } = {}) => {
      const answer = await https(url, {
        ...init,
        headers: {
          accept: 'text/html',
          cookie: [...cookies].map(([name, value]) => `${name}=${value}`).join('; '),
          ...(init.body && { 'content-type': 'application/x-www-form-urlencoded' }),
        },
      });
      for (const header of [answer.headers['set-cookie'] ?? []].flat()) {
        setCookies.push(header);
        const [pair = ''] = header.split(';');
        const index = pair.indexOf('=');
        cookies.set(pair.slice(0, index), pair.slice(index + 1));
      }
      hops.push(answer);
      return answer;
    };

    let url = authorizationRequest(server.issuer, { client_id: clientId, redirect_uri: REDIRECT }).url;
    let answer = await go(url);
    while (answer.status >= 300 && answer.status < 400) {
      url = new URL(String(answer.headers.location), url);
      answer = await go(url);
    }
    const action = /action="(\/interaction\/[^"]+\/login)"/.exec(answer.body)?.[1];
    assert.ok(action, 'the login form');
    answer = await go(new URL(action, url), { method: 'POST', body: new URLSearchParams({ csrf: csrfToken(answer.body), ...ANN }).toString() });
    assert.equal(answer.status, 303, 'signed in');
    while (answer.status >= 300 && answer.status < 400) {
      url = new URL(String(answer.headers.location), url);
      if (url.origin !== new URL(server.issuer).origin) break;
      answer = await go(url);
    }
    assert.ok(setCookies.length >= 4, `cookies were set (${setCookies.length})`);
    for (const cookie of setCookies) {
      assert.match(cookie, /;\s*secure/i, cookie.split('=')[0]);
      assert.match(cookie, /;\s*httponly/i, cookie.split('=')[0]);
    }
    assert.ok(setCookies.some((cookie) => cookie.startsWith('portcullis.device=')), 'the device cookie too');
    for (const hop of hops) assert.ok(hop.headers['strict-transport-security'], `HSTS on ${hop.status}`);
  });
});

describe('without TRUST_PROXY', () => {
  let plain: TestServer;

  before(async () => {
    plain = await startTestServer({ RATE_LIMIT_IP: '10/1m', LOG_LEVEL: 'warn' });
  });

  after(async () => {
    await plain?.close();
  });

  test('X-Forwarded-For and X-Forwarded-Proto from a client are ignored: one budget, no HSTS, no Secure', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) {
      const response = await fetch(`${plain.issuer}/jwks`, { headers: { 'x-forwarded-for': `10.0.0.${i}`, 'x-forwarded-proto': 'https' } });
      statuses.push(response.status);
      assert.equal(response.headers.get('strict-transport-security'), null);
      await response.body?.cancel();
    }
    assert.equal(statuses.at(-1), 429, 'every request counted against the socket address');
  });
});
