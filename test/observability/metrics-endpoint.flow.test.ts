import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';

import * as oidc from 'openid-client';
import parsePrometheusTextFormat, { type PrometheusFamily } from 'parse-prometheus-text-format';

import { runBrowser } from '../helpers/browserless-login.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// /metrics on the management listener, parsed with a Prometheus text parser after known
// traffic: every series the issue asks for is there, with the counts the traffic implies,
// and no label carries a token, an email or a raw path.

const REDIRECT = 'http://localhost:8080/callback';
const API = 'https://metrics-api.example.com';
const JWT_API = 'https://metrics-jwt-api.example.com';
const EMAIL = 'metrics@example.com';
const PASSWORD = 'metrics password 99';
const insecure = { execute: [oidc.allowInsecureRequests] };
const BUILD_COMMIT = '0123456789abcdef0123456789abcdef01234567';

let server: TestServer;
let families: Map<string, PrometheusFamily>;
/** The same text with histograms read as plain series: this parser drops a labelled histogram's labels. */
let series: Map<string, PrometheusFamily>;
let metricsText: string;
let serviceId: string;
let webId: string;
const tokens: string[] = [];
/** Request ids of requests whose access-log lines are checked. */
const requestIds: Record<string, string> = {};

function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
}

function family(name: string): PrometheusFamily {
  const found = families.get(name);
  assert.ok(found, `${name} is exposed`);
  return found;
}

/** The value of the one sample whose labels include `labels`; a histogram's observation count. */
function value(name: string, labels: Record<string, string> = {}): number {
  const source = family(name).type === 'HISTOGRAM' ? series.get(`${name}_count`) : family(name);
  const samples = (source?.metrics ?? []).filter((sample) => Object.entries(labels).every(([key, label]) => sample.labels?.[key] === label));
  assert.equal(samples.length, 1, `one ${name} sample with ${JSON.stringify(labels)}`);
  return Number(samples[0]!.value);
}

before(async () => {
  server = await startTestServer({ REFRESH_GRACE_SECONDS: '0', PORTCULLIS_COMMIT: BUILD_COMMIT });
  const { accounts, clients, resources } = server.services;
  await accounts.create({ email: EMAIL, name: 'Metric Person', password: PASSWORD });
  await resources.create({ indicator: API, name: 'API', scopes: [{ name: 'read' }], accessTokenFormat: 'opaque' });
  await resources.create({ indicator: JWT_API, name: 'JWT API', scopes: [{ name: 'write' }], accessTokenFormat: 'jwt' });
  const service = await clients.create({ type: 'service', name: 'Batch', resources: [API, JWT_API], scopes: ['read', 'write'] });
  serviceId = service.client.clientId;
  const introspector = await clients.create({ type: 'resource-server', name: 'API', resources: [API, JWT_API] });
  const web = await clients.create({ type: 'web', name: 'Web', redirectUris: [REDIRECT], scopes: ['openid', 'email', 'offline_access'] });
  webId = web.client.clientId;

  const token = (authorization: string, body: Record<string, string>) =>
    fetch(`${server.issuer}/token`, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(body),
    });
  // Known traffic.
  assert.equal((await fetch(`${server.issuer}/.well-known/openid-configuration`)).status, 200);
  for (let n = 0; n < 2; n++) {
    const response = await token(basic(serviceId, service.clientSecret!), { grant_type: 'client_credentials', scope: 'read', resource: API });
    assert.equal(response.status, 200);
    tokens.push(((await response.json()) as { access_token: string }).access_token);
  }
  const refused = await token(basic(serviceId, 'wrong-secret'), { grant_type: 'client_credentials' });
  assert.equal(refused.status, 401);
  requestIds.invalidClient = refused.headers.get('x-request-id')!;
  // A JWT access token: the engine cannot introspect it and emits an error event before
  // Portcullis answers the introspection itself, successfully.
  const jwtResponse = await token(basic(serviceId, service.clientSecret!), { grant_type: 'client_credentials', scope: 'write', resource: JWT_API });
  assert.equal(jwtResponse.status, 200);
  const jwt = ((await jwtResponse.json()) as { access_token: string }).access_token;
  tokens.push(jwt);
  for (const candidate of [tokens[0]!, 'not-a-token-at-all', jwt]) {
    const response = await fetch(`${server.issuer}/token/introspection`, {
      method: 'POST',
      headers: { authorization: basic(introspector.client.clientId, introspector.clientSecret!), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: candidate }),
    });
    assert.equal(response.status, 200);
    assert.equal(((await response.json()) as { active: boolean }).active, candidate !== 'not-a-token-at-all');
    if (candidate === jwt) requestIds.jwtIntrospection = response.headers.get('x-request-id')!;
  }
  const configuration = await oidc.discovery(new URL(server.issuer), webId, undefined, oidc.ClientSecretBasic(web.clientSecret), insecure);
  const verifier = oidc.randomPKCECodeVerifier();
  const browser = await runBrowser(
    oidc.buildAuthorizationUrl(configuration, {
      redirect_uri: REDIRECT,
      scope: 'openid email offline_access',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      prompt: 'consent',
    }),
    { email: EMAIL, password: PASSWORD },
  );
  const issued = await oidc.authorizationCodeGrant(configuration, browser.url, { pkceCodeVerifier: verifier, expectedState: oidc.skipStateCheck });
  tokens.push(issued.access_token, issued.refresh_token!);
  await oidc.refreshTokenGrant(configuration, issued.refresh_token!);
  await assert.rejects(oidc.refreshTokenGrant(configuration, issued.refresh_token!));
  assert.equal((await fetch(`${server.issuer}/no/such/path?code=abc`)).status, 404);
  // What a browser fetches beside a page: logged at debug only.
  const stylesheet = await fetch(`${server.issuer}/assets/portcullis.css`);
  assert.equal(stylesheet.status, 200);
  requestIds.stylesheet = stylesheet.headers.get('x-request-id')!;
  requestIds.favicon = (await fetch(`${server.issuer}/favicon.ico`)).headers.get('x-request-id')!;

  const response = await fetch(`${server.managementUrl}/metrics`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  metricsText = await response.text();
  families = new Map(parsePrometheusTextFormat(metricsText).map((parsed) => [parsed.name, parsed]));
  const flat = metricsText.replace(/^# TYPE (\S+) histogram$/gm, '# TYPE $1 untyped');
  // Read that way, each label set's lines come as a family of their own: merge them by name.
  series = new Map();
  for (const parsed of parsePrometheusTextFormat(flat)) {
    const known = series.get(parsed.name);
    series.set(parsed.name, known ? { ...known, metrics: [...known.metrics, ...parsed.metrics] } : parsed);
  }
});

after(async () => {
  await server?.close();
});

describe('/metrics after known traffic', () => {
  test('times requests by method, route name and status, never by raw path', () => {
    const histogram = family('portcullis_http_request_duration_seconds');
    assert.equal(histogram.type, 'HISTOGRAM');
    assert.equal(value('portcullis_http_request_duration_seconds', { method: 'POST', route: 'token', status: '200' }), 5);
    assert.equal(value('portcullis_http_request_duration_seconds', { method: 'POST', route: 'token', status: '401' }), 1);
    assert.equal(value('portcullis_http_request_duration_seconds', { method: 'POST', route: 'token', status: '400' }), 1);
    assert.equal(value('portcullis_http_request_duration_seconds', { method: 'POST', route: 'introspection', status: '200' }), 3);
    assert.ok(value('portcullis_http_request_duration_seconds', { method: 'GET', route: 'discovery', status: '200' }) >= 2);
    // The unknown path and /favicon.ico.
    assert.equal(value('portcullis_http_request_duration_seconds', { method: 'GET', route: 'unmatched', status: '404' }), 2);
    assert.ok(value('portcullis_http_request_duration_seconds', { method: 'POST', route: '/interaction/:uid/login', status: '303' }) >= 1);
    const routes = new Set(series.get('portcullis_http_request_duration_seconds_count')!.metrics.map((sample) => sample.labels?.route));
    assert.ok(routes.size >= 8);
    for (const route of routes) assert.ok(route && !/\/interaction\/[A-Za-z0-9_-]{10,}/.test(route), `bounded route label: ${route}`);
  });

  test('counts tokens issued by grant type and client', () => {
    assert.equal(value('portcullis_tokens_issued_total', { grant_type: 'client_credentials', client_id: serviceId }), 3);
    assert.equal(value('portcullis_tokens_issued_total', { grant_type: 'authorization_code', client_id: webId }), 1);
    assert.equal(value('portcullis_tokens_issued_total', { grant_type: 'refresh_token', client_id: webId }), 1);
  });

  test('counts OAuth errors by error code and route: the error responses sent, and nothing else', () => {
    const samples = family('portcullis_oauth_errors_total').metrics.map((sample) => ({ error: sample.labels?.error, route: sample.labels?.route, value: Number(sample.value) }));
    assert.deepEqual(
      samples.filter((sample) => sample.value > 0).sort((a, b) => String(a.error).localeCompare(String(b.error))),
      [
        { error: 'invalid_client', route: 'token', value: 1 },
        { error: 'invalid_grant', route: 'token', value: 1 },
        // The unknown path and /favicon.ico (the traffic above) answer {"error":"not_found"}
        // (or the not-found page), counted under the one bounded route label of everything unmatched.
        { error: 'not_found', route: 'unmatched', value: 2 },
      ],
      'a successful JWT introspection is not an unsupported_token_type error',
    );
  });

  test('the access log names an error only for a response that is one', () => {
    const lines = server
      .logs()
      .split('\n')
      .filter(Boolean)
      .map((text) => JSON.parse(text) as { requestId?: string; msg?: string; status?: number; error?: string });
    const line = (requestId: string) => lines.find((entry) => entry.msg === 'request' && entry.requestId === requestId);
    assert.equal(line(requestIds.jwtIntrospection!)?.status, 200);
    assert.equal(line(requestIds.jwtIntrospection!)?.error, undefined);
    assert.equal(line(requestIds.invalidClient!)?.status, 401);
    assert.equal(line(requestIds.invalidClient!)?.error, 'invalid_client');
  });

  test('asset requests (stylesheet, favicon) leave no access-log line at info level; other requests do', () => {
    const lines = server
      .logs()
      .split('\n')
      .filter(Boolean)
      .map((text) => JSON.parse(text) as { requestId?: string; msg?: string; path?: string; level?: number });
    const requests = lines.filter((entry) => entry.msg === 'request');
    assert.ok(requestIds.stylesheet && requestIds.favicon);
    for (const id of [requestIds.stylesheet, requestIds.favicon]) {
      assert.equal(requests.find((entry) => entry.requestId === id), undefined, `no info line for ${id}`);
    }
    assert.ok(!requests.some((entry) => entry.path?.startsWith('/assets/')));
    assert.equal(requests.find((entry) => entry.requestId === requestIds.invalidClient)?.level, 30);
  });

  test('portcullis_build_info names the version and the commit, with the value 1', async () => {
    const { version } = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    assert.equal(value('portcullis_build_info', { version, commit: BUILD_COMMIT }), 1);
  });

  test('portcullis_active_sessions counts the unexpired browser sessions; the signing keys\' age is their age', async () => {
    // The one login above left one session.
    assert.equal(value('portcullis_active_sessions'), 1);
    const rows = await server.database.prisma.signingKey.findMany({ where: { status: 'active' } });
    for (const alg of ['ES256', 'RS256']) {
      const created = rows.find((row) => row.alg === alg)!.createdAt.getTime();
      const age = value('portcullis_signing_key_age_seconds', { alg });
      const expected = (Date.now() - created) / 1000;
      assert.ok(age >= 0 && Math.abs(age - expected) < 30, `${alg}: ${age} s, created ${expected} s ago`);
    }
  });

  test('the state gauges are read at most once per cache period, however often /metrics is scraped', async () => {
    const selects = async () => {
      const text = await (await fetch(`${server.managementUrl}/metrics`)).text();
      const sample = parsePrometheusTextFormat(text.replace(/^# TYPE (\S+) histogram$/gm, '# TYPE $1 untyped'))
        .filter((parsed) => parsed.name === 'portcullis_db_query_duration_seconds_count')
        .flatMap((parsed) => parsed.metrics)
        .find((entry) => entry.labels?.command === 'SELECT');
      return Number(sample?.value);
    };
    // The first scrape (in before) read the state; the next ones, within 30 s, reuse it.
    const first = await selects();
    for (let n = 0; n < 5; n++) await selects();
    assert.equal(await selects(), first, 'six more scrapes within the cache period ran no query');
  });

  test('counts refresh token reuse, grace-window hits, introspections by result, logins and rate limits', () => {
    assert.equal(value('portcullis_refresh_token_reuse_total'), 1);
    assert.equal(value('portcullis_refresh_token_grace_hits_total'), 0);
    assert.equal(value('portcullis_introspections_total', { result: 'active' }), 2);
    assert.equal(value('portcullis_introspections_total', { result: 'inactive' }), 1);
    assert.equal(value('portcullis_introspections_total', { result: 'error' }), 0);
    for (const outcome of ['success', 'failure', 'locked']) assert.ok(value('portcullis_login_attempts_total', { outcome }) >= 0);
    assert.equal(family('portcullis_rate_limited_total').type, 'COUNTER');
  });

  test('reports the database pool and query latency', () => {
    assert.ok(value('portcullis_db_pool_connections') >= 1);
    assert.ok(value('portcullis_db_pool_idle_connections') >= 0);
    assert.equal(value('portcullis_db_pool_waiting_requests'), 0);
    assert.equal(value('portcullis_db_pool_max_connections'), server.database.testDatabase.poolMax);
    assert.equal(family('portcullis_db_query_duration_seconds').type, 'HISTOGRAM');
    assert.ok(value('portcullis_db_query_duration_seconds', { command: 'SELECT' }) > 10);
    assert.ok(value('portcullis_db_query_duration_seconds', { command: 'INSERT' }) > 0);
  });

  test('reports the audit buffer and its drops', () => {
    assert.equal(value('portcullis_audit_events_dropped_total', { reason: 'buffer_full' }), 0);
    assert.ok(value('portcullis_audit_events_buffered') >= 0);
    assert.equal(family('portcullis_audit_events_written_total').type, 'COUNTER');
  });

  test('includes the default process metrics', () => {
    for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds']) {
      assert.ok(families.has(name), name);
    }
  });

  test('no label carries a token, an email, a query string or an id from a path', () => {
    for (const secret of [...tokens, EMAIL, 'code=abc']) assert.ok(!metricsText.includes(secret), `metrics hold ${secret.slice(0, 8)}…`);
  });
});
