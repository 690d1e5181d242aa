import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test, type TestContext } from 'node:test';

import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import * as oidc from 'openid-client';

import { captureAudit } from '../helpers/capture-audit.ts';

import { accountUrl, signInToAccountPage } from '../helpers/account-page.ts';
import { authorizationRequest, CookieJar, csrfToken, openPage, runBrowser, submitForm } from '../helpers/browserless-login.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document), README
// "Client ID Metadata Documents": a client_id that is a URL is resolved by fetching its
// document from a real HTTP server here, with openid-client as the client. Tested as an
// attacker would use it: URLs that point inside the network, redirects, oversized, slow and
// mislabelled documents, a document claiming another id or a secret, a redirect URI the
// policy refuses; caching by the document's own headers; and the feature off.

const REDIRECT = 'http://localhost:8080/callback';
const PASSWORD = 'a long and correct password for documents';
const insecure = { execute: [oidc.allowInsecureRequests] };
const person = { email: 'cimd@example.com', name: 'Document Reader', password: PASSWORD };

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

/** A real HTTP server of documents, on its own port (so its own host for the fetch budget). */
interface DocumentServer {
  readonly origin: string;
  /** Serves a handler at a path; `url(path)` is the client_id. */
  route(path: string, handler: Handler): string;
  /** Serves a JSON document naming its own URL as client_id (unless it says otherwise). */
  serve(path: string, document: Record<string, unknown>, headers?: Record<string, string>): string;
  hits(path: string): number;
  /** TCP connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

let nextLoopbackHost = 2;

async function startDocumentServer(): Promise<DocumentServer> {
  const handlers = new Map<string, Handler>();
  const hits = new Map<string, number>();
  let connections = 0;
  const server: Server = createServer((request, response) => {
    const path = request.url ?? '/';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const handler = handlers.get(path);
    if (handler) handler(request, response);
    else response.writeHead(404).end();
  });
  server.on('connection', () => connections++);
  // Each on an address of its own in 127/8 (all loopback on Linux): the fetch budget counts
  // a host by its name or address, whatever the port.
  const address = `127.0.0.${nextLoopbackHost++}`;
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  const origin = `http://${address}:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    route(path, handler) {
      handlers.set(path, handler);
      return `${origin}${path}`;
    },
    serve(path, document, headers = { 'cache-control': 'max-age=300' }) {
      const url = `${origin}${path}`;
      handlers.set(path, (_request, response) => {
        response.writeHead(200, { 'content-type': 'application/json', ...headers }).end(JSON.stringify({ client_id: url, ...document }));
      });
      return url;
    },
    hits: (path) => hits.get(path) ?? 0,
    connections: () => connections,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** A document server of the test's own: each is its own host, with its own fetch budget. */
async function documentServerFor(t: TestContext): Promise<DocumentServer> {
  const documents = await startDocumentServer();
  t.after(() => documents.close());
  return documents;
}

const publicClient = { client_name: 'Agent by Document', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], scope: 'openid email' };

/** GET /auth for a client_id, not followed: the engine's answer (a redirect to sign-in, or its error page). */
async function authorize(server: TestServer, clientId: string, redirectUri = REDIRECT, from?: string): Promise<{ status: number; text: string; location: string | null }> {
  const request = authorizationRequest(server.issuer, { client_id: clientId, redirect_uri: redirectUri, scope: 'openid email' });
  // `from`: the requester's address, as the trusted proxy of the first server below says it.
  const response = await fetch(request.url, { redirect: 'manual', ...(from && { headers: { 'x-forwarded-for': from } }) });
  return { status: response.status, text: await response.text(), location: response.headers.get('location') };
}

/** The engine's answer to a client it refused: its error page, 400, with the code and why. */
function assertInvalidClient(answer: { status: number; text: string; location: string | null }, reason?: RegExp): void {
  assert.equal(answer.status, 400, answer.text.slice(0, 300));
  assert.equal(answer.location, null, 'nobody is redirected anywhere');
  assert.match(answer.text, /invalid_client/);
  if (reason) assert.match(answer.text.replaceAll('&#39;', "'").replaceAll('&quot;', '"'), reason);
}

async function discovery(server: TestServer, path = '/.well-known/openid-configuration'): Promise<Record<string, unknown>> {
  return (await (await fetch(`${server.issuer}${path}`)).json()) as Record<string, unknown>;
}

describe('CLIENT_ID_METADATA_DOCUMENTS=on (with private hosts allowed, to serve documents from 127.0.0.1)', () => {
  let server: TestServer;
  const audit = captureAudit();
  const audited = (type: string, clientId: string) => audit.events.filter((event) => event.type === type && event.clientId === clientId);
  before(async () => {
    server = await startTestServer(
      // TRUST_PROXY: a test names the requester's address (X-Forwarded-For), for the fetch budget per requester.
      { LOG_LEVEL: 'warn', CLIENT_ID_METADATA_DOCUMENTS: 'on', CLIENT_ID_METADATA_ALLOW_PRIVATE_HOSTS: 'true', CLIENT_REGISTRATION_REDIRECT_HOSTS: 'app.example.com', TRUST_PROXY: 'true' },
      { declare: { users: [person] }, audit },
    );
  });
  after(async () => {
    await server?.close();
  });

  test('both discovery documents say client_id_metadata_document_supported', async () => {
    assert.equal((await discovery(server)).client_id_metadata_document_supported, true);
    assert.equal((await discovery(server, '/.well-known/oauth-authorization-server')).client_id_metadata_document_supported, true);
  });

  test('a client named by its document URL signs a person in with the authorization code and PKCE through openid-client; consent says it is unverified and names its host', async (t) => {
    const documents = await documentServerFor(t);
    const clientId = documents.serve('/agent/client.json', publicClient);
    const client = await oidc.discovery(new URL(server.issuer), clientId, undefined, oidc.None(), insecure);
    const request = authorizationRequest(server.issuer, { client_id: clientId, redirect_uri: REDIRECT, scope: 'openid email' });
    const seen: string[] = [];
    const result = await runBrowser(request.url, { email: person.email, password: PASSWORD, onPage: (html) => seen.push(html) });
    assert.ok(result.pages.includes('consent'), 'a client by document is a third party: consent is asked');
    const login = seen.find((html) => html.includes('/login"'))!;
    assert.match(login, /unverified/, 'the sign-in page says so too');
    const consent = seen.find((html) => html.includes('/confirm'))!;
    assert.match(consent, /unverified/);
    assert.ok(consent.includes(new URL(clientId).host), 'the page names the host of the document');
    assert.match(consent, /Agent by Document/);
    const tokens = await oidc.authorizationCodeGrant(client, result.url, { pkceCodeVerifier: request.verifier, expectedState: request.state });
    assert.equal(tokens.claims()?.aud, clientId);
    assert.equal(tokens.claims()?.sub, server.declared.accountId(person.email));
    // Nothing is stored as a registry client; the fetch is audited once, with who asked.
    assert.equal((await server.services.clients.list()).some((stored) => stored.clientId === clientId), false);
    const [resolved, ...more] = audited('client.metadata_document_resolved', clientId);
    assert.equal(more.length, 0);
    assert.equal(resolved?.ip, '127.0.0.1');
    assert.deepEqual(resolved?.data?.redirectUris, [REDIRECT]);
    assert.equal(documents.hits('/agent/client.json'), 1, 'one fetch for the whole flow');
  });

  test('a document with jwks_uri is refused, and the engine never fetches it (a client_assertion at the revocation endpoint)', async (t) => {
    const documents = await documentServerFor(t);
    const internal = await documentServerFor(t);
    const jwksUri = internal.serve('/latest/meta-data/keys', { keys: [] });
    const clientId = documents.serve('/jwks-uri/client.json', { ...publicClient, token_endpoint_auth_method: 'private_key_jwt', jwks_uri: jwksUri });
    const meta = await discovery(server);
    const { privateKey } = await generateKeyPair('ES256');
    for (let index = 0; index < 3; index++) {
      const assertion = await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'any' }).setIssuer(clientId).setSubject(clientId).setAudience(String(meta.issuer)).setJti(crypto.randomUUID()).setIssuedAt().setExpirationTime('1m').sign(privateKey);
      const response = await fetch(String(meta.revocation_endpoint), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: 'x', client_id: clientId, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion }),
      });
      assert.equal(response.status, 400);
      assert.match(await response.text(), /invalid_client.*jwks_uri is not allowed/);
    }
    assert.equal(internal.connections(), 0, 'the jwks_uri was never contacted');
  });

  test('a private_key_jwt client by document authenticates with the key its document publishes, and with no other', async (t) => {
    const documents = await documentServerFor(t);
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), alg: 'ES256', use: 'sig', kid: 'document-key' };
    const clientId = documents.serve('/keyed/client.json', { ...publicClient, token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [jwk] } });
    const issuer = new URL(server.issuer);
    const signIn = async () => {
      const request = authorizationRequest(server.issuer, { client_id: clientId, redirect_uri: REDIRECT, scope: 'openid email' });
      return { request, result: await runBrowser(request.url, { email: person.email, password: PASSWORD }) };
    };
    const owner = await oidc.discovery(issuer, clientId, undefined, oidc.PrivateKeyJwt({ key: privateKey, kid: 'document-key' }), insecure);
    const first = await signIn();
    const tokens = await oidc.authorizationCodeGrant(owner, first.result.url, { pkceCodeVerifier: first.request.verifier, expectedState: first.request.state });
    assert.equal(tokens.claims()?.aud, clientId);
    const { privateKey: otherKey } = await generateKeyPair('ES256');
    const impostor = await oidc.discovery(issuer, clientId, undefined, oidc.PrivateKeyJwt({ key: otherKey, kid: 'document-key' }), insecure);
    const second = await signIn();
    await assert.rejects(
      oidc.authorizationCodeGrant(impostor, second.result.url, { pkceCodeVerifier: second.request.verifier, expectedState: second.request.state }),
      (error: { error?: string }) => error.error === 'invalid_client',
    );
  });

  test('a second request within max-age does not fetch the document again', async (t) => {
    const documents = await documentServerFor(t);
    const clientId = documents.serve('/cached/client.json', publicClient, { 'cache-control': 'public, max-age=600' });
    assert.equal((await authorize(server, clientId)).status, 303);
    assert.equal((await authorize(server, clientId)).status, 303);
    assert.equal(documents.hits('/cached/client.json'), 1);
  });

  test('a burst of requests naming one new document fetches it once, and every one of them goes on', async (t) => {
    const documents = await documentServerFor(t);
    const clientId = `${documents.origin}/burst/client.json`;
    documents.route('/burst/client.json', (_request, response) => {
      // Slow enough that the whole burst arrives while the one fetch is under way.
      setTimeout(() => response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' }).end(JSON.stringify({ client_id: clientId, ...publicClient })), 300);
    });
    const answers = await Promise.all(Array.from({ length: 24 }, () => authorize(server, clientId)));
    assert.deepEqual(answers.map((answer) => answer.status), Array.from({ length: 24 }, () => 303));
    assert.equal(documents.hits('/burst/client.json'), 1);
  });

  test('consent to a client by document is not remembered: a new browser session is asked again, and nothing fails', async (t) => {
    const documents = await documentServerFor(t);
    const clientId = documents.serve('/consent/client.json', publicClient);
    for (let round = 0; round < 2; round++) {
      const request = authorizationRequest(server.issuer, { client_id: clientId, redirect_uri: REDIRECT, scope: 'openid email' });
      const result = await runBrowser(request.url, { email: person.email, password: PASSWORD });
      assert.ok(result.pages.includes('consent'), `sign-in ${round + 1} asks for consent`);
      assert.equal(new URL(result.url).searchParams.has('code'), true);
    }
  });

  test('a document with Cache-Control no-store is kept for the floor too: a whole sign-in fetches it once', async (t) => {
    const documents = await documentServerFor(t);
    const clientId = documents.serve('/no-store/client.json', publicClient, { 'cache-control': 'no-store' });
    const client = await oidc.discovery(new URL(server.issuer), clientId, undefined, oidc.None(), insecure);
    const request = authorizationRequest(server.issuer, { client_id: clientId, redirect_uri: REDIRECT, scope: 'openid email' });
    const result = await runBrowser(request.url, { email: person.email, password: PASSWORD });
    await oidc.authorizationCodeGrant(client, result.url, { pkceCodeVerifier: request.verifier, expectedState: request.state });
    assert.equal((await authorize(server, clientId)).status, 303);
    assert.equal(documents.hits('/no-store/client.json'), 1);
  });

  test('two Cache-Control headers are read as one list, not a 500', async (t) => {
    const documents = await documentServerFor(t);
    const clientId = documents.route('/twice/client.json', (request, response) => {
      response.setHeader('content-type', 'application/json');
      response.setHeader('cache-control', ['public', 'max-age=600']);
      response.end(JSON.stringify({ ...publicClient, client_id: `${documents.origin}/twice/client.json` }));
    });
    assert.equal((await authorize(server, clientId)).status, 303);
    assert.equal((await authorize(server, clientId)).status, 303);
    assert.equal(documents.hits('/twice/client.json'), 1);
  });

  test('a redirect (302) is refused, and its target never fetched', async (t) => {
    const documents = await documentServerFor(t);
    const target = documents.serve('/target.json', publicClient);
    const clientId = documents.route('/redirecting/client.json', (_request, response) => {
      response.writeHead(302, { location: target }).end();
    });
    assertInvalidClient(await authorize(server, clientId), /redirect/);
    assert.equal(documents.hits('/target.json'), 0);
  });

  test('an oversized document is cut off as it streams, and refused', async (t) => {
    const documents = await documentServerFor(t);
    let written = 0;
    let closedEarly = false;
    const clientId = documents.route('/huge/client.json', (_request, response) => {
      // No Content-Length: only counting the bytes as they arrive can stop it.
      response.writeHead(200, { 'content-type': 'application/json' });
      response.on('close', () => {
        closedEarly = written < 1024 * 1024;
      });
      const timer = setInterval(() => {
        if (response.destroyed || written >= 1024 * 1024) {
          clearInterval(timer);
          response.end();
          return;
        }
        response.write(' '.repeat(1024));
        written += 1024;
      }, 2);
    });
    const answer = await authorize(server, clientId);
    assertInvalidClient(answer, /larger than 5120 bytes/);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.ok(closedEarly, `the connection was dropped after ${written} bytes`);
  });

  test('a slow document is given up after the time limit', async (t) => {
    const documents = await documentServerFor(t);
    const clientId = documents.route('/slow/client.json', (_request, response) => {
      const timer = setTimeout(() => response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ client_id: clientId, ...publicClient })), 6000);
      response.on('close', () => clearTimeout(timer));
    });
    const started = Date.now();
    assertInvalidClient(await authorize(server, clientId), /did not arrive within 3 s/);
    assert.ok(Date.now() - started < 5000, 'answered within the limit');
  });

  test('a document that is not JSON by its Content-Type is refused', async (t) => {
    const documents = await documentServerFor(t);
    const clientId = documents.route('/html/client.json', (_request, response) => {
      response.writeHead(200, { 'content-type': 'text/html' }).end(JSON.stringify({ client_id: clientId, ...publicClient }));
    });
    assertInvalidClient(await authorize(server, clientId), /not JSON/);
  });

  test('a document whose client_id is not its own URL is refused', async (t) => {
    const documents = await documentServerFor(t);
    const clientId = documents.serve('/impostor/client.json', { ...publicClient, client_id: `${documents.origin}/someone-else/client.json` });
    assertInvalidClient(await authorize(server, clientId), /client_id in the document is not the URL/);
  });

  test('a document with a client_secret, or a shared-secret auth method, is refused', async (t) => {
    const documents = await documentServerFor(t);
    const withSecret = documents.serve('/secret/client.json', { ...publicClient, client_secret: 'a secret of its own choosing' });
    assertInvalidClient(await authorize(server, withSecret), /client_secret is not allowed/);
    const basic = documents.serve('/basic/client.json', { ...publicClient, token_endpoint_auth_method: 'client_secret_basic' });
    assertInvalidClient(await authorize(server, basic), /client_secret_basic is not allowed/);
  });

  test('a document that sets our own fields (first party, to skip consent) is refused', async (t) => {
    const documents = await documentServerFor(t);
    const clientId = documents.serve('/first-party/client.json', { ...publicClient, portcullis_first_party: true });
    assertInvalidClient(await authorize(server, clientId), /portcullis_first_party is not allowed/);
  });

  test('redirect URIs outside the registration policy are refused, and nobody is sent there', async (t) => {
    const documents = await documentServerFor(t);
    const evil = documents.serve('/evil-host/client.json', { ...publicClient, redirect_uris: ['https://evil.example.net/callback'] });
    assertInvalidClient(await authorize(server, evil, 'https://evil.example.net/callback'), /the host evil\.example\.net is not allowed/);
    const scheme = documents.serve('/evil-scheme/client.json', { ...publicClient, redirect_uris: ['com.evil.app:/callback'] });
    assertInvalidClient(await authorize(server, scheme, 'com.evil.app:/callback'), /scheme is not allowed/);
    // Within the policy, but the request names another redirect URI: the engine's exact match.
    const allowed = documents.serve('/allowed-host/client.json', { ...publicClient, redirect_uris: ['https://app.example.com/callback'] });
    const other = await authorize(server, allowed, 'https://app.example.com/other');
    assert.equal(other.status, 400);
    assert.equal(other.location, null);
    assert.match(other.text, /redirect_uri/);
  });

  test('a refused document is refused again without another fetch for a while', async (t) => {
    const documents = await documentServerFor(t);
    const clientId = `${documents.origin}/missing/client.json`;
    assertInvalidClient(await authorize(server, clientId), /answered 404/);
    assertInvalidClient(await authorize(server, clientId), /answered 404/);
    assertInvalidClient(await authorize(server, clientId));
    assert.equal(documents.hits('/missing/client.json'), 1);
    const refused = audited('client.metadata_document_refused', clientId);
    assert.equal(refused.length, 1, 'audited once, for the one fetch');
    assert.match(String(refused[0]?.data?.reason), /answered 404/);
  });

  test('URLs the draft does not allow are refused before anything is fetched', async (t) => {
    const documents = await documentServerFor(t);
    const before = documents.connections();
    for (const clientId of [
      `${documents.origin}/`,
      `${documents.origin}/a/../client.json`,
      `${documents.origin}/a/%2e%2e/client.json`,
      `${documents.origin}/client.json#fragment`,
      `http://user:pass@${new URL(documents.origin).host}/client.json`,
    ]) {
      assertInvalidClient(await authorize(server, clientId));
    }
    assert.equal(documents.connections(), before);
  });

  test('a host is fetched from at most 10 times a minute, and one requester spends at most 5 of them', async (t) => {
    const documents = await documentServerFor(t);
    const clientId = documents.serve('/budget/client.json', publicClient);
    // The attacker names junk on the victim's host: 5 fetches, then its own address is refused, and the host is not blamed.
    for (let index = 0; index < 5; index++) assertInvalidClient(await authorize(server, `${documents.origin}/budget/${index}.json`, REDIRECT, '198.51.100.7'), /answered 404/);
    for (let index = 5; index < 20; index++) assertInvalidClient(await authorize(server, `${documents.origin}/budget/${index}.json`, REDIRECT, '198.51.100.7'), /at the request of your address/);
    assert.equal(documents.hits('/budget/19.json'), 0);
    // Anyone else still reaches the host's client.
    assert.equal((await authorize(server, clientId, REDIRECT, '203.0.113.5')).status, 303);
    for (let index = 20; index < 24; index++) assertInvalidClient(await authorize(server, `${documents.origin}/budget/${index}.json`, REDIRECT, `203.0.113.${index}`), /answered 404/);
    assertInvalidClient(await authorize(server, `${documents.origin}/budget/over.json`, REDIRECT, '203.0.113.99'), new RegExp(`too many client metadata documents fetched from ${new URL(documents.origin).hostname.replaceAll('.', '\\.')};`, 'i'));
    assert.equal(documents.hits('/budget/over.json'), 0);
  });
});

describe('CLIENT_ID_METADATA_DOCUMENTS=on without private hosts: the SSRF guard', () => {
  let server: TestServer;
  let documents: DocumentServer;
  const audit = captureAudit();
  before(async () => {
    server = await startTestServer({ LOG_LEVEL: 'warn', CLIENT_ID_METADATA_DOCUMENTS: 'on' }, { audit });
    documents = await startDocumentServer();
  });
  after(async () => {
    await documents?.close();
    await server?.close();
  });

  test('a document URL on a name or address inside the network is refused without a connection to it', async () => {
    const { port } = new URL(documents.origin);
    documents.serve('/client.json', publicClient);
    for (const clientId of [
      `https://localhost:${port}/client.json`,
      `https://127.0.0.1:${port}/client.json`,
      `https://[::1]:${port}/client.json`,
      `https://[::ffff:127.0.0.1]:${port}/client.json`,
      'https://169.254.169.254/latest/meta-data/client.json',
      'https://10.0.0.1/client.json',
      'https://100.64.0.1/client.json',
      'https://[::a9fe:a9fe]/client.json',
    ]) {
      const answer = await authorize(server, clientId);
      assertInvalidClient(answer, /does not resolve to a public address/);
      assert.doesNotMatch(answer.text, /resolves to|127\.0\.0\.1 is/, 'no address told');
    }
    assert.equal(documents.connections(), 0, 'no connection reached the document server');
  });

  test('a name inside the network and one that does not resolve get the same answer; the address is in the audit only', async () => {
    const inside = await authorize(server, `https://localhost:${new URL(documents.origin).port}/named/client.json`);
    const nowhere = await authorize(server, 'https://no-such-host.invalid/client.json');
    assertInvalidClient(inside, /does not resolve to a public address/);
    assertInvalidClient(nowhere, /does not resolve to a public address/);
    assert.doesNotMatch(inside.text, /127\.0\.0\.1|::1|resolves to/);
    const [event] = audit.events.filter((entry) => entry.type === 'client.metadata_document_refused' && entry.clientId?.includes('/named/'));
    assert.match(String(event?.data?.detail), /localhost resolves to/);
  });

  test('address literals outside the guard spend no budget: a hundred and twenty of them lock nobody out', async () => {
    for (let index = 1; index <= 120; index++) assertInvalidClient(await authorize(server, `https://10.0.${index}.1/x.json`), /does not resolve to a public address/);
    // A name is fetched (and refused by the guard at its look-up), not refused by a spent budget.
    assertInvalidClient(await authorize(server, `https://localhost:${new URL(documents.origin).port}/after/client.json`), /does not resolve to a public address/);
  });

  test('an http:// document URL is refused', async () => {
    assertInvalidClient(await authorize(server, `${documents.origin}/client.json`), /must be https/);
    assert.equal(documents.connections(), 0);
  });
});

describe("a person takes back a document client's access", () => {
  let server: TestServer;
  const ACCOUNT_APP = 'account-api-app';
  const offline = { ...publicClient, grant_types: ['authorization_code', 'refresh_token'], scope: 'openid email offline_access' };
  before(async () => {
    server = await startTestServer(
      { LOG_LEVEL: 'warn', CLIENT_ID_METADATA_DOCUMENTS: 'on', CLIENT_ID_METADATA_ALLOW_PRIVATE_HOSTS: 'true', CLIENT_REGISTRATION_REDIRECT_HOSTS: 'app.example.com' },
      { declare: (issuer: string) => ({ users: [person], clients: [{ clientId: ACCOUNT_APP, name: 'Account API app', type: 'web', redirectUris: [REDIRECT], scopes: ['openid', 'account:write'], resources: [`${issuer}/api`] }] }) as never },
    );
  });
  after(async () => server?.close());

  async function refreshTokenOf(clientId: string) {
    const client = await oidc.discovery(new URL(server.issuer), clientId, undefined, oidc.None(), insecure);
    const request = authorizationRequest(server.issuer, { client_id: clientId, redirect_uri: REDIRECT, scope: 'openid email offline_access', prompt: 'consent' });
    const result = await runBrowser(request.url, { email: person.email, password: PASSWORD });
    const tokens = await oidc.authorizationCodeGrant(client, result.url, { pkceCodeVerifier: request.verifier, expectedState: request.state });
    assert.ok(tokens.refresh_token);
    // A public client's refresh token is rotated: each use gives the next.
    let current = tokens.refresh_token;
    const works = () =>
      oidc.refreshTokenGrant(client, current).then(
        (next) => ((current = next.refresh_token ?? current), true),
        () => false,
      );
    assert.equal(await works(), true);
    return works;
  }

  test('on the account page, "revoke app" for a client_id URL longer than 256 characters', async (t) => {
    const documents = await documentServerFor(t);
    const clientId = documents.serve(`/mcp/${'a'.repeat(300)}/client.json`, offline);
    const works = await refreshTokenOf(clientId);
    const { jar, page } = await signInToAccountPage(server.issuer, person.email, PASSWORD, new CookieJar());
    assert.ok(page.html.includes(clientId), 'the app is listed');
    await submitForm(jar, accountUrl(server.issuer, '/apps/revoke'), { csrf: csrfToken(page.html), id: clientId });
    assert.equal(await works(), false, 'its refresh token no longer works');
    const appsOf = (html: string) => html.slice(html.indexOf('id="apps-heading"'), html.indexOf('id="sign-ins-heading"'));
    assert.ok(appsOf(page.html).includes(clientId), 'listed before');
    assert.ok(!appsOf((await openPage(jar, accountUrl(server.issuer))).html).includes(clientId), 'no longer listed among the apps');
  });

  test("through the account API, DELETE /api/grants?client_id=<the document's URL>", async (t) => {
    const documents = await documentServerFor(t);
    const clientId = documents.serve('/api-revoked/client.json', offline);
    const works = await refreshTokenOf(clientId);
    const app = await oidc.discovery(new URL(server.issuer), ACCOUNT_APP, undefined, oidc.ClientSecretBasic(server.declared.clientSecret(ACCOUNT_APP)), insecure);
    const request = authorizationRequest(server.issuer, { client_id: ACCOUNT_APP, redirect_uri: REDIRECT, scope: 'openid account:write', resource: `${server.issuer}/api` });
    const result = await runBrowser(request.url, { email: person.email, password: PASSWORD });
    const tokens = await oidc.authorizationCodeGrant(app, result.url, { pkceCodeVerifier: request.verifier, expectedState: request.state }, { resource: `${server.issuer}/api` });
    const response = await fetch(`${server.issuer}/api/grants?client_id=${encodeURIComponent(clientId)}`, { method: 'DELETE', headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(response.status, 204, await response.text());
    assert.equal(await works(), false, 'its refresh token no longer works');
  });
});

describe('CLIENT_ID_METADATA_DOCUMENTS unset', () => {
  let server: TestServer;
  let documents: DocumentServer;
  before(async () => {
    server = await startTestServer({ LOG_LEVEL: 'warn', CLIENT_ID_METADATA_ALLOW_PRIVATE_HOSTS: 'true' });
    documents = await startDocumentServer();
  });
  after(async () => {
    await documents?.close();
    await server?.close();
  });

  test('a URL client_id is invalid_client, nothing is fetched, and discovery says nothing of documents', async () => {
    const clientId = documents.serve('/client.json', publicClient);
    assertInvalidClient(await authorize(server, clientId));
    assert.equal(documents.connections(), 0);
    assert.equal((await discovery(server)).client_id_metadata_document_supported, undefined);
    assert.equal((await discovery(server, '/.well-known/oauth-authorization-server')).client_id_metadata_document_supported, undefined);
  });
});
