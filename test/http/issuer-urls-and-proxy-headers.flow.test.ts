import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';

import { authorizationRequest, CookieJar, csrfToken, send } from '../helpers/browserless-login.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// Discovery and JWKS are fetched and cached by every client and resource server, so what
// they name must be the configured issuer, whatever a request says about where it was
// sent: a Host, an X-Forwarded-Host or an absolute request target written by an attacker
// never reaches the metadata (a shared cache would hand it to everyone), and the cache
// headers are explicit. And behind a proxy, the client's address is read only from a
// well-formed X-Forwarded-For.

const EVIL = 'evil.example';
const REDIRECT = 'https://app.example/callback';

/** Every string value of a JSON document that looks like a URL. */
function urlsIn(document: unknown): string[] {
  if (typeof document === 'string') return /^[a-z][a-z0-9+.-]*:\/\//i.test(document) ? [document] : [];
  if (Array.isArray(document)) return document.flatMap(urlsIn);
  if (document && typeof document === 'object') return Object.values(document).flatMap(urlsIn);
  return [];
}

function assertOnlyIssuerUrls(document: unknown, issuer: string): void {
  const urls = urlsIn(document);
  assert.ok(urls.length >= 5, 'the document names endpoints');
  for (const url of urls) {
    assert.equal(new URL(url).origin, new URL(issuer).origin, `${url} is on the issuer`);
    assert.ok(!url.includes(EVIL));
  }
}

/** One request written as raw bytes (an absolute-form target, an arbitrary Host). */
function raw(port: number, head: string): Promise<{ status: number; headers: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (received += chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const end = received.indexOf('\r\n\r\n');
      const headers = received.slice(0, end);
      let body = received.slice(end + 4);
      // Chunked bodies: joined without their size lines.
      if (/\r\ntransfer-encoding: chunked/i.test(headers)) body = body.replace(/(^|\r\n)[0-9a-f]+\r\n/gi, '').replace(/\r\n$/, '');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1]), headers, body });
    });
    socket.end(`${head}\r\nConnection: close\r\n\r\n`);
  });
}

describe('without TRUST_PROXY', () => {
  let server: TestServer;
  let port: number;

  before(async () => {
    server = await startTestServer({ LOG_LEVEL: 'warn' });
    port = Number(new URL(server.issuer).port);
  });
  after(async () => {
    await server?.close();
  });

  test('discovery names only the issuer\'s URLs whatever the Host says', async () => {
    for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
      const answer = await raw(port, `GET ${path} HTTP/1.1\r\nHost: ${EVIL}`);
      assert.equal(answer.status, 200);
      assertOnlyIssuerUrls(JSON.parse(answer.body), server.issuer);
    }
  });

  test('an absolute request target naming another host changes none of the URLs', async () => {
    const answer = await raw(port, `GET http://${EVIL}/.well-known/openid-configuration HTTP/1.1\r\nHost: ${EVIL}`);
    assert.equal(answer.status, 200);
    assertOnlyIssuerUrls(JSON.parse(answer.body), server.issuer);
  });

  test('a request target that is no URL is a 400 in the protocol\'s shape, never a 500', async () => {
    for (const target of ['http://[::1/', 'http://[::1/jwks', 'http://[/x', 'http://%zz/jwks']) {
      const answer = await raw(port, `GET ${target} HTTP/1.1\r\nHost: ${EVIL}`);
      assert.equal(answer.status, 400, target);
      assert.match(answer.headers, /\r\nx-request-id: /i, `${target}: answered by the app's error handling`);
      assert.equal((JSON.parse(answer.body) as { error?: string }).error, 'invalid_request', target);
    }
  });

  test('discovery may be cached publicly for a few minutes, the JWKS for ten', async () => {
    for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
      const response = await fetch(`${server.issuer}${path}`);
      assert.equal(response.headers.get('cache-control'), 'public, max-age=300');
    }
    const jwks = await fetch(`${server.issuer}/jwks`);
    assert.equal(jwks.status, 200);
    assert.equal(jwks.headers.get('cache-control'), 'public, max-age=600');
    // Errors and everything else stay uncached.
    const token = await fetch(`${server.issuer}/token`, { method: 'POST' });
    assert.equal(token.status, 400);
    assert.doesNotMatch(token.headers.get('cache-control') ?? 'no-store', /public|max-age=[1-9]/);
  });
});

describe('behind a TLS-terminating proxy (TRUST_PROXY)', () => {
  const ISSUER = 'https://auth.example.test';
  let server: TestServer;
  let clientId: string;

  before(async () => {
    server = await startTestServer({ ISSUER, TRUST_PROXY: 'true', LOG_LEVEL: 'info' });
    clientId = (await server.services.clients.create({ type: 'spa', name: 'SPA', redirectUris: [REDIRECT] })).client.clientId;
  });
  after(async () => {
    await server?.close();
  });

  function local(path: string): string {
    return `http://127.0.0.1:${server.config.port}${path}`;
  }

  test('discovery names only the issuer\'s URLs whatever X-Forwarded-Host and X-Forwarded-Proto say', async () => {
    for (const headers of <Record<string, string>[]>[
      { 'x-forwarded-proto': 'https', 'x-forwarded-host': EVIL },
      { 'x-forwarded-proto': 'http', 'x-forwarded-host': `${EVIL}:8443` },
      { 'x-forwarded-proto': 'https' },
      {},
    ]) {
      const response = await fetch(local('/.well-known/openid-configuration'), { headers });
      assert.equal(response.status, 200);
      const document = (await response.json()) as { issuer: string; jwks_uri: string };
      assert.equal(document.jwks_uri, `${ISSUER}/jwks`);
      assertOnlyIssuerUrls(document, ISSUER);
    }
  });

  test('the sign-in still sets Secure cookies over the proxy\'s https, and its redirects stay on the issuer', async () => {
    const jar = new CookieJar();
    const headers = { 'x-forwarded-proto': 'https', 'x-forwarded-host': EVIL, accept: 'text/html' };
    const start = authorizationRequest(ISSUER, { client_id: clientId, redirect_uri: REDIRECT });
    const response = await send(jar, new URL(local(`${start.url.pathname}${start.url.search}`)), { headers });
    assert.equal(response.status, 303);
    const location = response.headers.get('location')!;
    assert.ok(location.startsWith('/interaction/') || location.startsWith(`${ISSUER}/interaction/`), location);
    const cookies = response.headers.getSetCookie();
    assert.ok(cookies.length > 0);
    for (const cookie of cookies) assert.match(cookie, /;\s*secure/i, cookie);
    const page = await send(jar, new URL(local(new URL(location, ISSUER).pathname)), { headers });
    assert.equal(page.status, 200);
    assert.ok(csrfToken(await page.text()));
  });

  test('a malformed X-Forwarded-For is dropped: the access log names the socket address', async () => {
    const sent: [string, string][] = [
      ['garbage<>', '127.0.0.1'],
      ['10.9.8.7, garbage<>', '127.0.0.1'],
      ['not-an-ip', '127.0.0.1'],
      ['1.2.3.4:5678', '127.0.0.1'],
      ['garbage<>, 10.9.8.7', '10.9.8.7'],
      ['2001:db8::7', '2001:db8::7'],
      // IPv6 zone ids (which net.isIP accepts, at any length) are the proxy host's own
      // business: the address is kept without one, never the text after the %.
      ['fe80::1%eth0', 'fe80::1'],
      [`fe80::2%${'z'.repeat(2000)}`, 'fe80::2'],
      ['[2001:db8::8]', '127.0.0.1'],
      ['[2001:db8::8]:443', '127.0.0.1'],
      ['\u00b9.2.3.4', '127.0.0.1'],
    ];
    for (const [forwardedFor, expected] of sent) {
      const requestId = `xff-${Math.random().toString(36).slice(2)}`;
      const response = await fetch(local('/jwks'), { headers: { 'x-forwarded-for': forwardedFor, 'x-request-id': requestId } });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('x-request-id'), requestId);
      const line = server
        .logs()
        .split('\n')
        .filter(Boolean)
        .map((text) => JSON.parse(text) as { requestId?: string; ip?: string; msg?: string })
        .find((entry) => entry.requestId === requestId && entry.msg === 'request');
      assert.ok(line, `the access log has the request with X-Forwarded-For ${forwardedFor}`);
      assert.equal(line.ip, expected, `X-Forwarded-For: ${forwardedFor}`);
    }
  });
});
