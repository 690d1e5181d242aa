import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import http, { type OutgoingHttpHeaders } from 'node:http';
import { after, before, describe, test } from 'node:test';

import { calculateJwkThumbprint, decodeJwt, exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import * as oidc from 'openid-client';

import { DPOP_SIGNING_ALGS } from '../../src/account-api/verify-dpop-proof.ts';
import { runBrowser } from '../helpers/browserless-login.ts';
import { basicAuth, postAsClient } from '../helpers/token-endpoint.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// DPoP (RFC 9449) end to end, as a DPoP client and an attacker see it: openid-client binds
// tokens to its key at the token endpoint and proves possession at /api; every defect of a
// proof, a bound token presented as Bearer and a replayed proof are refused; introspection
// names the binding for every token format. Also: the account API acts only for a person,
// never for a client whose id happens to be an account's.

const REDIRECT = 'http://localhost:8080/callback';
const JWT_API = 'https://jwt-api.example.com';
const OPAQUE_API = 'https://opaque-api.example.com';
const insecure = { execute: [oidc.allowInsecureRequests] };

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;

let server: TestServer;
let accountApi: string;
let web: oidc.Configuration;
const ids: Record<string, { id: string; secret: string }> = {};
let people = 0;

async function newPerson() {
  const email = `person${++people}@example.com`;
  const password = `password of ${email}`;
  const account = await server.services.accounts.create({ email, name: `Person ${people}`, password });
  return { id: account.id, email, password };
}

const newKey = (): Promise<KeyPair> => generateKeyPair('ES256', { extractable: true });
const now = () => Math.floor(Date.now() / 1000);
const sha256 = (value: string) => createHash('sha256').update(value).digest('base64url');
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A person's token from the code flow, bound to `key` when given (openid-client's DPoP). */
async function personToken(person: { email: string; password: string }, options: { key?: KeyPair; resource?: string; scope?: string } = {}) {
  const verifier = oidc.randomPKCECodeVerifier();
  const parameters = new URLSearchParams({
    redirect_uri: REDIRECT,
    scope: options.scope ?? 'openid account:read account:write',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    resource: options.resource ?? accountApi,
  });
  const browser = await runBrowser(oidc.buildAuthorizationUrl(web, parameters), person);
  const DPoP = options.key && oidc.getDPoPHandle(web, options.key);
  const tokens = await oidc.authorizationCodeGrant(web, browser.url, { pkceCodeVerifier: verifier, expectedState: oidc.skipStateCheck }, undefined, DPoP ? { DPoP } : undefined);
  return { tokens, DPoP };
}

/** A hand-made proof: valid for GET /api/me with `token` unless a field says otherwise. */
async function makeProof(
  key: KeyPair,
  token: string,
  fields: { htm?: string; htu?: string; iat?: number; jti?: string; ath?: string | null; typ?: string; jwk?: JWK } = {},
): Promise<string> {
  const claims: Record<string, unknown> = {
    htm: fields.htm ?? 'GET',
    htu: fields.htu ?? `${server.issuer}/api/me`,
    iat: fields.iat ?? now(),
    jti: fields.jti ?? randomUUID(),
  };
  if (fields.ath !== null) claims.ath = fields.ath ?? sha256(token);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', typ: fields.typ ?? 'dpop+jwt', jwk: fields.jwk ?? (await exportJWK(key.publicKey)) })
    .sign(key.privateKey);
}

interface Answer {
  readonly status: number;
  readonly challenge: string;
  readonly body: Record<string, unknown>;
}

/** One raw request to the API: exact headers (a DPoP array sends several header lines). */
function call(path: string, headers: { authorization?: string; dpop?: string | string[]; host?: string }, method = 'GET'): Promise<Answer> {
  const outgoing: OutgoingHttpHeaders = {};
  if (headers.authorization !== undefined) outgoing.authorization = headers.authorization;
  if (headers.dpop !== undefined) outgoing.dpop = headers.dpop;
  if (headers.host !== undefined) outgoing.host = headers.host;
  return new Promise((resolve, reject) => {
    const request = http.request(new URL(path, server.issuer), { method, headers: outgoing }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        resolve({
          status: response.statusCode ?? 0,
          challenge: [response.headers['www-authenticate'] ?? []].flat().join(', '),
          body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
        });
      });
    });
    request.on('error', reject);
    request.end();
  });
}

function assertRefused(answer: Answer, error: string, status = 401) {
  assert.equal(answer.status, status, JSON.stringify(answer.body));
  assert.equal(answer.body.error, error);
  assert.equal(typeof answer.body.error_description, 'string');
  assert.match(answer.challenge, new RegExp(`error="${error}"`));
}

function assertDpopChallenge(answer: Answer) {
  assert.match(answer.challenge, /^DPoP realm="portcullis", /);
  assert.match(answer.challenge, new RegExp(`algs="${DPOP_SIGNING_ALGS.join(' ')}"`));
}

async function introspect(client: string, token: string) {
  const { id, secret } = ids[client]!;
  const response = await postAsClient(`${server.issuer}/token/introspection`, basicAuth(id, secret), { token });
  assert.equal(response.status, 200);
  return (await response.json()) as Record<string, unknown>;
}

async function clientCredentials(client: string, fields: Record<string, string>, proof?: string) {
  const { id, secret } = ids[client]!;
  const response = await fetch(`${server.issuer}/token`, {
    method: 'POST',
    headers: { authorization: basicAuth(id, secret), 'content-type': 'application/x-www-form-urlencoded', ...(proof && { dpop: proof }) },
    body: new URLSearchParams({ grant_type: 'client_credentials', ...fields }),
  });
  assert.equal(response.status, 200);
  return (await response.json()) as { access_token: string; token_type: string };
}

before(async () => {
  // A small per-account budget, so a test can tell whose budget a request spends.
  server = await startTestServer({ RATE_LIMIT_ACCOUNT: '5/1m' });
  accountApi = `${server.issuer}/api`;
  const { clients, resources } = server.services;
  await resources.create({ indicator: JWT_API, name: 'JWT API', scopes: [{ name: 'read' }], accessTokenFormat: 'jwt' });
  await resources.create({ indicator: OPAQUE_API, name: 'Opaque API', scopes: [{ name: 'read' }], accessTokenFormat: 'opaque' });
  const register = async (name: string, input: Record<string, unknown>) => {
    const created = await clients.create(input);
    ids[name] = { id: created.client.clientId, secret: created.clientSecret! };
  };
  await register('web', {
    type: 'web',
    name: 'Web app',
    redirectUris: [REDIRECT],
    resources: [accountApi, JWT_API, OPAQUE_API],
    scopes: ['openid', 'read', 'account:read', 'account:write'],
  });
  await register('service', { type: 'service', name: 'Batch', resources: [JWT_API], scopes: ['read'] });
  await register('jwtApi', { type: 'resource-server', name: 'JWT API server', resources: [JWT_API] });
  await register('opaqueApi', { type: 'resource-server', name: 'Opaque API server', resources: [OPAQUE_API] });
  web = await oidc.discovery(new URL(server.issuer), ids.web!.id, undefined, oidc.ClientSecretBasic(ids.web!.secret), insecure);
});

after(async () => {
  await server?.close();
});

describe('the account API with DPoP-bound tokens', () => {
  test('openid-client’s DPoP handle gets a bound token and reads /api/me and /api/grants, and revokes a grant', async () => {
    const person = await newPerson();
    const key = await newKey();
    const { tokens, DPoP } = await personToken(person, { key });
    assert.equal(tokens.token_type.toLowerCase(), 'dpop');
    assert.equal((decodeJwt(tokens.access_token).cnf as { jkt?: string }).jkt, await calculateJwkThumbprint(await exportJWK(key.publicKey)));

    const me = await oidc.fetchProtectedResource(web, tokens.access_token, new URL(`${accountApi}/me`), 'GET', undefined, undefined, { DPoP: DPoP! });
    assert.equal(me.status, 200);
    assert.equal(((await me.json()) as { sub: string }).sub, person.id);

    const listed = await oidc.fetchProtectedResource(web, tokens.access_token, new URL(`${accountApi}/grants`), 'GET', undefined, undefined, { DPoP: DPoP! });
    assert.equal(listed.status, 200);
    const [grant] = ((await listed.json()) as { grants: { id: string }[] }).grants;
    const deleted = await oidc.fetchProtectedResource(web, tokens.access_token, new URL(`${accountApi}/grants/${grant!.id}`), 'DELETE', undefined, undefined, { DPoP: DPoP! });
    assert.equal(deleted.status, 204);
  });

  test('a DPoP-bound token presented as Bearer is refused with invalid_token and a DPoP challenge', async () => {
    const { tokens } = await personToken(await newPerson(), { key: await newKey() });
    const answer = await call('/api/me', { authorization: `Bearer ${tokens.access_token}` });
    assertRefused(answer, 'invalid_token');
    assertDpopChallenge(answer);
  });

  test('a token that is not DPoP-bound is refused with the DPoP scheme, even with a good proof', async () => {
    const { tokens } = await personToken(await newPerson());
    const answer = await call('/api/me', { authorization: `DPoP ${tokens.access_token}`, dpop: await makeProof(await newKey(), tokens.access_token) });
    assertRefused(answer, 'invalid_token');
    assertDpopChallenge(answer);
    assert.equal((await call('/api/me', { authorization: `Bearer ${tokens.access_token}` })).status, 200, 'as Bearer it is good');
  });

  test('a Bearer request that carries a DPoP proof is refused as ambiguous', async () => {
    const key = await newKey();
    const { tokens } = await personToken(await newPerson(), { key });
    assertRefused(await call('/api/me', { authorization: `Bearer ${tokens.access_token}`, dpop: await makeProof(key, tokens.access_token) }), 'invalid_request');
  });

  test('no credentials: a bare challenge for each scheme', async () => {
    const answer = await call('/api/me', {});
    assert.equal(answer.status, 401);
    const metadata = `${server.issuer}/.well-known/oauth-protected-resource/api`;
    assert.equal(answer.challenge, `Bearer realm="portcullis", resource_metadata="${metadata}", DPoP realm="portcullis", resource_metadata="${metadata}", algs="${DPOP_SIGNING_ALGS.join(' ')}"`);
  });
});

describe('DPoP proofs at the account API', () => {
  let key: KeyPair;
  let token: string;
  const dpopCall = (dpop: string | string[] | undefined, path = '/api/me', method = 'GET', extra: { host?: string } = {}) =>
    call(path, { authorization: `DPoP ${token}`, ...(dpop !== undefined && { dpop }), ...extra }, method);

  before(async () => {
    key = await newKey();
    token = (await personToken(await newPerson(), { key })).tokens.access_token;
  });

  test('a hand-made proof with every claim RFC 9449 asks for is accepted (the baseline of the cases below)', async () => {
    assert.equal((await dpopCall(await makeProof(key, token))).status, 200);
    // Query and fragment of htu are ignored, as the RFC says.
    assert.equal((await dpopCall(await makeProof(key, token, { htu: `${server.issuer}/api/me?x=1#f` }), '/api/me?y=2')).status, 200);
  });

  // Each case differs from the baseline in one thing, and must be refused for that thing.
  const defects: [string, RegExp, () => Promise<string | string[] | undefined> | string | undefined][] = [
    ['an ath for another token', /\(ath\)/, async () => makeProof(key, token, { ath: sha256(`${token}x`) })],
    ['no ath', /\(ath\)/, async () => makeProof(key, token, { ath: null })],
    ['an htu on another host', /\(htu\)/, async () => makeProof(key, token, { htu: 'https://evil.example/api/me' })],
    ['an htu with another path', /\(htu\)/, async () => makeProof(key, token, { htu: `${server.issuer}/api/grants` })],
    ['an htu that is no URL', /\(htu\)/, async () => makeProof(key, token, { htu: 'me' })],
    ['an htm of another method', /\(htm\)/, async () => makeProof(key, token, { htm: 'POST' })],
    ['a stale iat', /\(iat\)/, async () => makeProof(key, token, { iat: now() - 300 })],
    ['an iat in the future', /\(iat\)/, async () => makeProof(key, token, { iat: now() + 300 })],
    ['a signature by another key than the token’s', /key the access token is bound to/, async () => makeProof(await newKey(), token)],
    ['another key in the header than the one that signed', /not a valid/, async () => makeProof(await newKey(), token, { jwk: await exportJWK(key.publicKey) })],
    ['a private key in the jwk header', /not a valid/, async () => makeProof(key, token, { jwk: await exportJWK(key.privateKey) })],
    ['typ JWT', /not a valid/, async () => makeProof(key, token, { typ: 'JWT' })],
    ['no jti', /jti/, async () => makeProof(key, token, { jti: '' })],
    [
      'alg none',
      /not a valid/,
      async () => `${b64({ alg: 'none', typ: 'dpop+jwt', jwk: await exportJWK(key.publicKey) })}.${b64({ htm: 'GET', htu: `${server.issuer}/api/me`, iat: now(), jti: randomUUID(), ath: sha256(token) })}.`,
    ],
    [
      'a symmetric alg (HS256) with an oct key in the header',
      /not a valid/,
      async () => {
        const secret = randomBytes(32);
        return new SignJWT({ htm: 'GET', htu: `${server.issuer}/api/me`, iat: now(), jti: randomUUID(), ath: sha256(token) })
          .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: { kty: 'oct', k: secret.toString('base64url') } as JWK })
          .sign(secret);
      },
    ],
    ['a malformed proof', /not a valid/, () => 'not.a.jwt'],
    ['an empty proof', /missing/, () => ''],
    ['a huge proof', /too long/, () => 'a'.repeat(7000)],
    ['a proof of JSON garbage', /not a valid/, () => `${b64('x')}.${b64([1])}.${b64(null)}`],
    ['two DPoP headers, each a good proof', /exactly one/, async () => [await makeProof(key, token), await makeProof(key, token)]],
    ['no DPoP header at all', /exactly one/, () => undefined],
  ];
  for (const [defect, reason, proof] of defects) {
    test(`a proof with ${defect} is refused with invalid_dpop_proof`, async () => {
      const answer = await dpopCall(await proof());
      assertRefused(answer, 'invalid_dpop_proof');
      assert.match(String(answer.body.error_description), reason);
      assertDpopChallenge(answer);
    });
  }

  test('a proof whose htu follows a forged Host header is refused: the URL comes from the issuer', async () => {
    const host = 'evil.example';
    const answer = await dpopCall(await makeProof(key, token, { htu: `http://${host}/api/me` }), '/api/me', 'GET', { host });
    assertRefused(answer, 'invalid_dpop_proof');
  });

  test('a proof for GET does not authorize DELETE of a grant', async () => {
    assertRefused(await dpopCall(await makeProof(key, token, { htu: `${server.issuer}/api/grants/x` }), '/api/grants/x', 'DELETE'), 'invalid_dpop_proof');
  });

  test('a replayed proof is refused, and so is a new proof that reuses its jti', async () => {
    const jti = randomUUID();
    const proof = await makeProof(key, token, { jti });
    assert.equal((await dpopCall(proof)).status, 200);
    assertRefused(await dpopCall(proof), 'invalid_dpop_proof');
    assertRefused(await dpopCall(await makeProof(key, token, { jti, iat: now() - 1 })), 'invalid_dpop_proof');
  });

  test('of a concurrent burst of one proof exactly one request succeeds, and none fails with a 5xx', async () => {
    const proof = await makeProof(key, token);
    const answers = await Promise.all(Array.from({ length: 12 }, () => dpopCall(proof)));
    assert.deepEqual(
      answers.map((answer) => answer.status).sort(),
      [200, ...Array.from({ length: 11 }, () => 401)],
    );
    for (const answer of answers.filter((a) => a.status === 401)) assert.equal(answer.body.error, 'invalid_dpop_proof');
  });
});

describe('introspection of DPoP-bound tokens', () => {
  test('a DPoP-bound JWT access token introspects with cnf.jkt and token_type DPoP', async () => {
    const key = await newKey();
    const { tokens } = await personToken(await newPerson(), { key, resource: JWT_API, scope: 'openid read' });
    const body = await introspect('jwtApi', tokens.access_token);
    assert.equal(body.active, true);
    assert.equal(body.token_type, 'DPoP');
    assert.deepEqual(body.cnf, { jkt: await calculateJwkThumbprint(await exportJWK(key.publicKey)) });
  });

  test('a DPoP-bound opaque access token introspects with cnf.jkt and token_type DPoP', async () => {
    const key = await newKey();
    const { tokens } = await personToken(await newPerson(), { key, resource: OPAQUE_API, scope: 'openid read' });
    assert.doesNotMatch(tokens.access_token, /^ey/);
    const body = await introspect('opaqueApi', tokens.access_token);
    assert.equal(body.active, true);
    assert.equal(body.token_type, 'DPoP');
    assert.deepEqual(body.cnf, { jkt: await calculateJwkThumbprint(await exportJWK(key.publicKey)) });
  });

  test('a DPoP-bound client-credentials JWT introspects with cnf.jkt and token_type DPoP', async () => {
    const key = await newKey();
    const proof = await new SignJWT({ htm: 'POST', htu: `${server.issuer}/token`, iat: now(), jti: randomUUID() })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(key.publicKey) })
      .sign(key.privateKey);
    const issued = await clientCredentials('service', { resource: JWT_API, scope: 'read' }, proof);
    assert.equal(issued.token_type, 'DPoP');
    const body = await introspect('jwtApi', issued.access_token);
    assert.equal(body.token_type, 'DPoP');
    assert.deepEqual(body.cnf, { jkt: await calculateJwkThumbprint(await exportJWK(key.publicKey)) });
  });

  test('a bearer JWT access token introspects as Bearer, without cnf', async () => {
    const { tokens } = await personToken(await newPerson(), { resource: JWT_API, scope: 'openid read' });
    const body = await introspect('jwtApi', tokens.access_token);
    assert.equal(body.active, true);
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.cnf, undefined);
  });
});

describe('the account API acts only for a person', () => {
  test('a client-credentials token whose client id is an account id is refused at every route, and spends none of that person’s budget', async () => {
    const person = await newPerson();
    const created = await server.services.clients.create({
      clientId: person.id,
      type: 'service',
      name: 'Look-alike',
      resources: [accountApi],
      scopes: ['account:read', 'account:write'],
    });
    ids.lookalike = { id: created.client.clientId, secret: created.clientSecret! };
    const machine = await clientCredentials('lookalike', { resource: accountApi, scope: 'account:read account:write' });
    assert.equal(decodeJwt(machine.access_token).sub, person.id, 'the token’s sub is the person’s id');

    for (let i = 0; i < 6; i++) {
      const answer = await call('/api/me', { authorization: `Bearer ${machine.access_token}` });
      assertRefused(answer, 'insufficient_scope', 403);
      assert.equal(answer.body.sub, undefined);
    }
    assertRefused(await call('/api/grants', { authorization: `Bearer ${machine.access_token}` }), 'insufficient_scope', 403);
    assertRefused(await call('/api/grants/some-grant', { authorization: `Bearer ${machine.access_token}` }, 'DELETE'), 'insufficient_scope', 403);

    // The person's own budget (5 a minute) is untouched.
    const { tokens } = await personToken(person);
    assert.equal((await call('/api/me', { authorization: `Bearer ${tokens.access_token}` })).status, 200);
  });

  test('a DPoP-bound client-credentials token with a good proof is refused too', async () => {
    const person = await newPerson();
    const created = await server.services.clients.create({ clientId: person.id, type: 'service', name: 'Look-alike 2', resources: [accountApi], scopes: ['account:read'] });
    ids.lookalike2 = { id: created.client.clientId, secret: created.clientSecret! };
    const key = await newKey();
    const tokenProof = await new SignJWT({ htm: 'POST', htu: `${server.issuer}/token`, iat: now(), jti: randomUUID() })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(key.publicKey) })
      .sign(key.privateKey);
    const machine = await clientCredentials('lookalike2', { resource: accountApi, scope: 'account:read' }, tokenProof);
    const answer = await call('/api/me', { authorization: `DPoP ${machine.access_token}`, dpop: await makeProof(key, machine.access_token) });
    assertRefused(answer, 'insufficient_scope', 403);
  });
});

describe('discovery', () => {
  test('advertises the DPoP algorithms the account API accepts, and no certificate-bound tokens', async () => {
    const metadata = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    assert.deepEqual(metadata.dpop_signing_alg_values_supported, [...DPOP_SIGNING_ALGS]);
    assert.notEqual(metadata.tls_client_certificate_bound_access_tokens, true);
    assert.equal(metadata.mtls_endpoint_aliases, undefined);
  });
});

describe('an account API that issues opaque tokens', () => {
  before(async () => {
    await server.services.resources.update(accountApi, { accessTokenFormat: 'opaque' });
  });
  after(async () => {
    await server.services.resources.update(accountApi, { accessTokenFormat: 'jwt' });
  });

  test('binds them the same way: good with a proof of the key, refused as Bearer', async () => {
    const key = await newKey();
    const { tokens, DPoP } = await personToken(await newPerson(), { key });
    assert.doesNotMatch(tokens.access_token, /^ey/);
    const me = await oidc.fetchProtectedResource(web, tokens.access_token, new URL(`${accountApi}/me`), 'GET', undefined, undefined, { DPoP: DPoP! });
    assert.equal(me.status, 200);
    assertRefused(await call('/api/me', { authorization: `Bearer ${tokens.access_token}` }), 'invalid_token');
    assertRefused(await call('/api/me', { authorization: `DPoP ${tokens.access_token}`, dpop: await makeProof(await newKey(), tokens.access_token) }), 'invalid_dpop_proof');
  });
});
