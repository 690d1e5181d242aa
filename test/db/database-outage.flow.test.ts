import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import * as oidc from 'openid-client';

import { CookieJar, runBrowser } from '../helpers/browserless-login.ts';
import { startCuttableProxy, type CuttableProxy } from '../helpers/cuttable-proxy.ts';
import { TEST_ENGINE } from '../helpers/test-database.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';
import { basicAuth, postAsClient } from '../helpers/token-endpoint.ts';

// Postgres going away under a running server, through a TCP proxy between the two that drops
// every connection and then refuses new ones: every endpoint answers 503 with Retry-After in
// its own shape (never a 500 or a stack), readiness turns false, the outage is one log line
// (and one when it ends), and the server recovers by itself. A client that refreshed during
// the outage and retries after it gets a usable token; its grant is not revoked.
//
// Postgres only: the embedded database serves one connection from inside the process, and
// cutting it under a query is not a fault a deployment of it can meet (nor survives cleanly).

const POSTGRES_ONLY = TEST_ENGINE === 'embedded' && 'the embedded database runs in this process: there is no network to cut';
const REDIRECT = 'http://localhost:8080/callback';
const OPAQUE_API = 'https://opaque.outage.example.com';
const USER = { email: 'olga@example.com', password: 'olga password 1234' };
const insecure = { execute: [oidc.allowInsecureRequests] };

let server: TestServer;
let proxy: CuttableProxy;
let web: { id: string; secret: string };
let service: { id: string; secret: string };
let introspector: { id: string; secret: string };
let operator: { id: string; secret: string };
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';

describe('a database outage', { skip: POSTGRES_ONLY }, () => {
  before(async () => {
    // The proxy forwards to the database's server, known once the database is made.
    const target = { host: '127.0.0.1', port: 5432 };
    proxy = await startCuttableProxy(target);
    server = await startTestServer(
      // The admin API, the device flow and token exchange too: their routes meet the outage like the rest.
      { ADMIN_API: 'true', GRANT_TYPES: 'authorization_code,refresh_token,client_credentials,device_code,token_exchange' },
      {
        databaseUrl(url) {
          const parsed = new URL(url);
          target.host = parsed.hostname;
          target.port = Number(parsed.port || 5432);
          parsed.port = String(proxy.port);
          return parsed.toString();
        },
      },
    );
    const { clients, resources, accounts } = server.services;
    await accounts.create({ email: USER.email, name: 'Olga', password: USER.password });
    await resources.create({ indicator: OPAQUE_API, name: 'Opaque API', scopes: [{ name: 'read' }], accessTokenFormat: 'opaque' });
    const created = await clients.create({ type: 'web', name: 'Outage app', redirectUris: [REDIRECT], scopes: ['openid', 'offline_access'] });
    web = { id: created.client.clientId, secret: created.clientSecret! };
    const batch = await clients.create({ type: 'service', name: 'Outage batch', resources: [OPAQUE_API], scopes: ['read'] });
    service = { id: batch.client.clientId, secret: batch.clientSecret! };
    const rs = await clients.create({ type: 'resource-server', name: 'Outage API server', resources: [OPAQUE_API], grantTypes: [TOKEN_EXCHANGE], exchangeAudiences: [OPAQUE_API], scopes: ['read'] });
    introspector = { id: rs.client.clientId, secret: rs.clientSecret! };
    const automation = await clients.create({ type: 'service', name: 'Outage operator', resources: [`${server.issuer}/admin`], scopes: ['admin:read'] });
    operator = { id: automation.client.clientId, secret: automation.clientSecret! };
    await clients.create({ clientId: 'outage-tv', type: 'native', name: 'Outage TV', grantTypes: [DEVICE_GRANT], scopes: ['openid'] });
  });

  after(async () => {
    await proxy?.restore();
    await server?.close();
    await proxy?.stop();
  });

  test('every endpoint answers 503 with Retry-After in its own shape, readiness turns false and back, one line per outage, and the server recovers by itself', async () => {
    const { tokens } = await signIn();
    const clientToken = await clientCredentials();
    assert.equal(clientToken.status, 200);
    const adminToken = await postAsClient(`${server.issuer}/token`, basicAuth(operator.id, operator.secret), { grant_type: 'client_credentials', resource: `${server.issuer}/admin`, scope: 'admin:read' });
    assert.equal(adminToken.status, 200);
    const adminAccessToken = ((await adminToken.json()) as { access_token: string }).access_token;
    // An interaction left at its login page, to be continued during the outage.
    const configuration = await webConfiguration();
    const jar = new CookieJar();
    const started = await fetch(authorizationUrl(configuration, await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier())), { redirect: 'manual' });
    jar.store(started);
    const interactionUrl = new URL(started.headers.get('location')!, server.issuer).toString();
    assert.match(interactionUrl, /\/interaction\//);
    assert.equal((await readyz()).status, 200);
    const logsBefore = server.logs().length;

    // Drop every connection and refuse new ones (each accepted and closed at once).
    const cutAt = Date.now();
    proxy.cut();
    const statuses: number[] = [];
    const record = (response: Response) => {
      statuses.push(response.status);
      return response;
    };

    const token = record(await clientCredentialsResponse());
    assert.equal(token.status, 503);
    assert.ok(Number(token.headers.get('retry-after')) >= 1, 'Retry-After');
    assert.deepEqual(await token.json(), { error: 'temporarily_unavailable', error_description: 'the service is temporarily unavailable; try again shortly' });

    const refreshed = record(await refresh(tokens.refresh_token!));
    assert.equal(refreshed.status, 503, 'a refresh during the outage');
    assert.equal(((await refreshed.json()) as { error: string }).error, 'temporarily_unavailable');
    assert.ok(refreshed.headers.get('retry-after'));

    const introspection = record(await postAsClient(`${server.issuer}/token/introspection`, basicAuth(introspector.id, introspector.secret), { token: clientToken.body.access_token as string }));
    assert.equal(introspection.status, 503);
    assert.equal(((await introspection.json()) as { error: string }).error, 'temporarily_unavailable');
    assert.ok(introspection.headers.get('retry-after'));

    const userinfo = record(await fetch(`${server.issuer}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } }));
    assert.equal(userinfo.status, 503);
    assert.ok(userinfo.headers.get('retry-after'));
    await userinfo.arrayBuffer();

    const api = record(await fetch(`${server.issuer}/api/me`, { headers: { authorization: `Bearer ${tokens.access_token}`, accept: 'application/json' } }));
    assert.equal(api.status, 503, 'the account API');
    assert.ok(api.headers.get('retry-after'));
    assert.equal(((await api.json()) as { error: string }).error, 'temporarily_unavailable');

    const admin = record(await fetch(`${server.issuer}/admin/api/v1/clients`, { headers: { authorization: `Bearer ${adminAccessToken}` } }));
    assert.equal(admin.status, 503, 'the admin API');
    assert.ok(admin.headers.get('retry-after'));
    await admin.arrayBuffer();

    const device = record(
      await fetch(`${server.issuer}/device/auth`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ client_id: 'outage-tv', scope: 'openid' }) }),
    );
    assert.equal(device.status, 503, 'the device authorization endpoint');
    assert.ok(device.headers.get('retry-after'));
    await device.arrayBuffer();

    // A token exchange (its own grant handler, outside the engine's): the token endpoint's 503.
    const exchanged = record(
      await postAsClient(`${server.issuer}/token`, basicAuth(introspector.id, introspector.secret), {
        grant_type: TOKEN_EXCHANGE,
        subject_token: clientToken.body.access_token as string,
        subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        resource: OPAQUE_API,
      }),
    );
    assert.equal(exchanged.status, 503, 'a token exchange');
    assert.ok(exchanged.headers.get('retry-after'));
    assert.equal(((await exchanged.json()) as { error: string }).error, 'temporarily_unavailable');

    // A browser: the engine's page (a token request that wants HTML), our login page.
    const enginePage = record(
      await fetch(`${server.issuer}/token`, {
        method: 'POST',
        headers: { accept: 'text/html', authorization: basicAuth(service.id, service.secret), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'read', resource: OPAQUE_API }),
      }),
    );
    assert.equal(enginePage.status, 503);
    assert.match(enginePage.headers.get('content-type') ?? '', /html/);
    assert.ok(enginePage.headers.get('retry-after'));
    assertCleanPage(await enginePage.text());

    const loginPage = record(await fetch(interactionUrl, { headers: { cookie: jar.header(), accept: 'text/html' } }));
    assert.equal(loginPage.status, 503, 'the login page');
    assert.ok(loginPage.headers.get('retry-after'));
    assertCleanPage(await loginPage.text());

    // The authorization endpoint: the engine cannot load the browser's session, so it
    // cannot know the redirect URI is safe yet: the page, not a redirect.
    const authorization = record(
      await fetch(authorizationUrl(configuration, await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier())), { redirect: 'manual', headers: { accept: 'text/html' } }),
    );
    assert.equal(authorization.status, 503, 'the authorization endpoint');
    assert.ok(authorization.headers.get('retry-after'));
    const authorizationPage = await authorization.text();
    assertCleanPage(authorizationPage);

    // Readiness turns false while the database is away.
    const down = await readyz();
    assert.equal(down.status, 503);
    assert.equal(down.body.checks.database, 'unreachable');

    // Then the port is closed altogether (connection refused) for the rest of the outage, under a steady stream of requests.
    await proxy.close();
    while (Date.now() - cutAt < 4_000) {
      const response = record(await clientCredentialsResponse());
      assert.equal(response.status, 503);
      await response.arrayBuffer();
      await sleep(100);
    }
    assert.equal((await readyz()).status, 503);
    assert.ok(!statuses.includes(500), `no 500 during the outage: ${statuses.join(',')}`);

    // Back: readiness and requests recover by themselves.
    await proxy.restore();
    const restoredAt = Date.now();
    let ready = false;
    while (!ready && Date.now() - restoredAt < 15_000) {
      ready = (await readyz()).status === 200;
      if (!ready) await sleep(100);
    }
    assert.ok(ready, 'readiness is true again');
    const readyAfterMs = Date.now() - restoredAt;
    const served = await clientCredentials();
    assert.equal(served.status, 200, 'requests are served again');
    const servedAfterMs = Date.now() - restoredAt;

    // The client that refreshed during the outage retries: a usable token, the grant alive.
    const retried = await refresh(tokens.refresh_token!);
    assert.equal(retried.status, 200, 'the refresh sent again after the outage');
    const successor = (await retried.json()) as { access_token: string; refresh_token: string };
    assert.equal((await fetch(`${server.issuer}/me`, { headers: { authorization: `Bearer ${successor.access_token}` } })).status, 200, 'its access token works');
    const next = await refresh(successor.refresh_token);
    assert.equal(next.status, 200, 'the grant was not revoked: its refresh token rotates on');
    await next.arrayBuffer();

    // The registry's change feed reconnected too: a client registered now can get a token at once.
    const late = await server.services.clients.create({ type: 'service', name: 'Registered after the outage', resources: [OPAQUE_API], scopes: ['read'] });
    let lateStatus = 0;
    for (let attempt = 0; attempt < 100 && lateStatus !== 200; attempt++) {
      const response = await postAsClient(`${server.issuer}/token`, basicAuth(late.client.clientId, late.clientSecret!), { grant_type: 'client_credentials', scope: 'read', resource: OPAQUE_API });
      lateStatus = response.status;
      await response.arrayBuffer();
      if (lateStatus !== 200) await sleep(200);
    }
    assert.equal(lateStatus, 200, 'a client registered after the outage is known to the running server');

    // One warning for the outage, one line for its end; no stack, no per-request error.
    const logs = server.logs().slice(logsBefore);
    await eventuallyLogs(() => /database is reachable again/.test(server.logs().slice(logsBefore)));
    const lines = server.logs().slice(logsBefore).split('\n');
    assert.equal(lines.filter((line) => line.includes('database unreachable')).length, 1, 'one line when the outage starts');
    assert.equal(lines.filter((line) => line.includes('database is reachable again')).length, 1, 'one line when it ends');
    assert.doesNotMatch(logs, /"msg":"(request failed|provider error)"/);
    assert.doesNotMatch(logs, /"stack"/);
    const refusedMetric = await metricValue('portcullis_unavailable_responses_total{dependency="database"}');
    assert.ok(refusedMetric >= statuses.filter((status) => status === 503).length - 1, `503s counted: ${refusedMetric}`);
    assert.equal(await metricValue('portcullis_refresh_token_reuse_total'), 0, 'no refresh counted as reuse');

    console.log(lines.filter((line) => /"level":(40|50)|reachable/.test(line) && !/"msg":"request"/.test(line)).join('\n'));
    console.log(
      `# outage figures: ${statuses.length} requests during ${Date.now() - cutAt - (Date.now() - restoredAt)} ms of outage, ` +
        `${statuses.filter((status) => status === 503).length} answered 503, ${statuses.filter((status) => status === 500).length} answered 500; ` +
        `ready again ${readyAfterMs} ms and served ${servedAfterMs} ms after the database came back`,
    );
  });
});

async function webConfiguration(): Promise<oidc.Configuration> {
  return oidc.discovery(new URL(server.issuer), web.id, undefined, oidc.ClientSecretBasic(web.secret), insecure);
}

function authorizationUrl(configuration: oidc.Configuration, challenge: string): URL {
  return oidc.buildAuthorizationUrl(configuration, { redirect_uri: REDIRECT, scope: 'openid offline_access', prompt: 'consent', code_challenge: challenge, code_challenge_method: 'S256' });
}

async function signIn() {
  const configuration = await webConfiguration();
  const verifier = oidc.randomPKCECodeVerifier();
  const browser = await runBrowser(authorizationUrl(configuration, await oidc.calculatePKCECodeChallenge(verifier)), { email: USER.email, password: USER.password });
  return { tokens: await oidc.authorizationCodeGrant(configuration, browser.url, { pkceCodeVerifier: verifier, expectedState: oidc.skipStateCheck }) };
}

function clientCredentialsResponse(): Promise<Response> {
  return postAsClient(`${server.issuer}/token`, basicAuth(service.id, service.secret), { grant_type: 'client_credentials', scope: 'read', resource: OPAQUE_API });
}

async function clientCredentials(): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await clientCredentialsResponse();
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

function refresh(refreshToken: string): Promise<Response> {
  return postAsClient(`${server.issuer}/token`, basicAuth(web.id, web.secret), { grant_type: 'refresh_token', refresh_token: refreshToken });
}

async function readyz(): Promise<{ status: number; body: { checks: Record<string, string> } }> {
  const response = await fetch(`${server.managementUrl}/readyz`);
  return { status: response.status, body: (await response.json()) as { checks: Record<string, string> } };
}

async function metricValue(series: string): Promise<number> {
  const text = await (await fetch(`${server.managementUrl}/metrics`)).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

async function eventuallyLogs(holds: () => boolean): Promise<void> {
  for (let attempt = 0; attempt < 50 && !holds(); attempt++) await sleep(100);
}

/** An error page: says what happened, shows no stack or internal detail. */
function assertCleanPage(html: string): void {
  assert.match(html, /<html/i);
  assert.doesNotMatch(html, /at [\w.]+ \(|node_modules|Prisma|ECONN|server_error/);
}
