import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';

import { exportJWK, generateKeyPair, SignJWT, type GenerateKeyPairResult } from 'jose';
import * as oidc from 'openid-client';

import { hashTokenId } from '../../src/oidc/index.ts';
import { CookieJar, runBrowser } from '../helpers/browserless-login.ts';
import { basicAuth } from '../helpers/token-endpoint.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// Refresh-token rotation as an attacker sees it: the grace window answers only the very
// client that rotated, authenticated the same way, proving the same DPoP key; anything
// else presenting a rotated token is reuse and ends that token family. Grants are per
// authorization (device), so reuse on one device leaves the person's other devices alone,
// while consent is remembered for them all. A rotation that died half-way is recovered.

const REDIRECT = 'http://localhost:8080/callback';
const GRACE_SECONDS = 3;
const USER = { email: 'rita@example.com', password: 'rita password 1234' };
const insecure = { execute: [oidc.allowInsecureRequests] };

let server: TestServer;
const clients: Record<string, { id: string; secret?: string }> = {};

before(async () => {
  server = await startTestServer({ REFRESH_GRACE_SECONDS: String(GRACE_SECONDS) });
  await server.services.accounts.create({ email: USER.email, name: 'Rita', password: USER.password });
  const register = async (name: string, input: Record<string, unknown>) => {
    const created = await server.services.clients.create({ redirectUris: [REDIRECT], scopes: ['openid', 'offline_access'], ...input });
    clients[name] = { id: created.client.clientId, ...(created.clientSecret && { secret: created.clientSecret }) };
  };
  await register('victim', { type: 'web', name: 'Victim app' });
  await register('attacker', { type: 'web', name: 'Attacker app' });
  await register('publicAttacker', { type: 'spa', name: 'Attacker SPA' });
  await register('spa', { type: 'spa', name: 'DPoP SPA' });
  await register('publicPlain', { type: 'spa', name: 'SPA without DPoP' });
});

after(async () => {
  await server?.close();
});

function configFor(name: string): Promise<oidc.Configuration> {
  const { id, secret } = clients[name]!;
  const auth = secret ? oidc.ClientSecretBasic(secret) : oidc.None();
  return oidc.discovery(new URL(server.issuer), id, undefined, auth, insecure);
}

/** A sign-in in a browser of its own (a device), ending in tokens. */
async function signIn(name: string, options: { jar?: CookieJar; dpop?: oidc.DPoPHandle } = {}) {
  const configuration = await configFor(name);
  const verifier = oidc.randomPKCECodeVerifier();
  const url = oidc.buildAuthorizationUrl(configuration, {
    redirect_uri: REDIRECT,
    scope: 'openid offline_access',
    prompt: 'consent',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  const browser = await runBrowser(url, { email: USER.email, password: USER.password, jar: options.jar ?? new CookieJar() });
  const tokens = await oidc.authorizationCodeGrant(configuration, browser.url, { pkceCodeVerifier: verifier, expectedState: oidc.skipStateCheck }, undefined, {
    ...(options.dpop && { DPoP: options.dpop }),
  });
  return { configuration, tokens, browser };
}

async function refresh(
  name: string,
  refreshToken: string,
  headers: Record<string, string> = {},
  params: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const { id, secret } = clients[name]!;
  const response = await fetch(`${server.issuer}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(secret && { authorization: basicAuth(id, secret) }),
      ...headers,
    },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, ...(!secret && { client_id: id }), ...params }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function dpopProof(keys: GenerateKeyPairResult, htu: string, overrides: Record<string, unknown> = {}): Promise<string> {
  const jwk = await exportJWK(keys.publicKey);
  return new SignJWT({ htm: 'POST', htu, jti: randomUUID(), iat: Math.floor(Date.now() / 1000), ...overrides })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: jwk })
    .sign(keys.privateKey);
}

async function refreshWorks(name: string, refreshToken: string): Promise<boolean> {
  return (await refresh(name, refreshToken)).status === 200;
}

describe('the grace window answers only the client that rotated', () => {
  test("another confidential client presenting a rotated token inside the window gets invalid_grant, and it counts as reuse", async () => {
    const { tokens } = await signIn('victim');
    const first = await refresh('victim', tokens.refresh_token!);
    assert.equal(first.status, 200);

    const stolen = await refresh('attacker', tokens.refresh_token!);
    assert.equal(stolen.status, 400);
    assert.equal(stolen.body.error, 'invalid_grant');
    assert.equal(stolen.body.access_token, undefined);
    // Reuse ends the family: the victim's successor is revoked too.
    assert.equal(await refreshWorks('victim', first.body.refresh_token as string), false);
  });

  test('a public client presenting a rotated token inside the window gets nothing', async () => {
    const { tokens } = await signIn('victim');
    assert.equal((await refresh('victim', tokens.refresh_token!)).status, 200);
    const stolen = await refresh('publicAttacker', tokens.refresh_token!);
    assert.equal(stolen.status, 400);
    assert.equal(stolen.body.error, 'invalid_grant');
    assert.equal(stolen.body.refresh_token, undefined);
  });

  test('a public client without DPoP gets no grace repeat: its own rotated token replayed inside the window is invalid_grant and ends the family', async () => {
    // Nothing authenticates a public client: whoever holds its old refresh token could
    // replay it as that client, so a repeat would hand the successor to a thief.
    const { tokens } = await signIn('publicPlain');
    const first = await refresh('publicPlain', tokens.refresh_token!);
    assert.equal(first.status, 200);
    const replay = await refresh('publicPlain', tokens.refresh_token!);
    assert.equal(replay.status, 400);
    assert.equal(replay.body.error, 'invalid_grant');
    assert.equal(replay.body.refresh_token, undefined);
    assert.equal(await refreshWorks('publicPlain', first.body.refresh_token as string), false, 'the family is revoked');
  });

  test('a retry inside the window asking for other scopes or resources gets no repeat of the first response, and ends the family', async () => {
    for (const other of [{ scope: 'openid' }, { resource: 'https://api.example.com/other' }] as Record<string, string>[]) {
      const { tokens } = await signIn('victim');
      const first = await refresh('victim', tokens.refresh_token!);
      assert.equal(first.status, 200);
      const retry = await refresh('victim', tokens.refresh_token!, {}, other);
      assert.equal(retry.status, 400, JSON.stringify(other));
      assert.equal(retry.body.access_token, undefined);
      assert.equal(retry.body.refresh_token, undefined);
      assert.equal(await refreshWorks('victim', first.body.refresh_token as string), false, `the family is revoked (${JSON.stringify(other)})`);
    }
  });

  test('the same client repeating its refresh inside the window gets the same successor', async () => {
    const { tokens } = await signIn('victim');
    const [a, b] = await Promise.all([refresh('victim', tokens.refresh_token!), refresh('victim', tokens.refresh_token!)]);
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    assert.equal(a.body.refresh_token, b.body.refresh_token);
    assert.equal(a.body.access_token, b.body.access_token);
    assert.equal(await refreshWorks('victim', a.body.refresh_token as string), true);
  });
});

describe('the grace window and DPoP', () => {
  test('a DPoP-bound refresh token replayed inside the window without a proof is refused and counts as reuse', async () => {
    const keys = await generateKeyPair('ES256');
    const { tokens } = await signIn('spa', { dpop: oidc.getDPoPHandle(await configFor('spa'), keys) });
    const first = await refresh('spa', tokens.refresh_token!, { dpop: await dpopProof(keys, `${server.issuer}/token`) });
    assert.equal(first.status, 200);
    assert.equal(first.body.token_type, 'DPoP');

    const bare = await refresh('spa', tokens.refresh_token!);
    assert.equal(bare.status, 400);
    assert.equal(bare.body.error, 'invalid_grant');
    assert.equal(bare.body.access_token, undefined);
    const next = await refresh('spa', first.body.refresh_token as string, { dpop: await dpopProof(keys, `${server.issuer}/token`) });
    assert.equal(next.status, 400, 'the family is revoked');
  });

  test("a proof of another key inside the window is refused; the rightful key's retry gets the same successor", async () => {
    const keys = await generateKeyPair('ES256');
    const other = await generateKeyPair('ES256');
    const { tokens } = await signIn('spa', { dpop: oidc.getDPoPHandle(await configFor('spa'), keys) });
    const first = await refresh('spa', tokens.refresh_token!, { dpop: await dpopProof(keys, `${server.issuer}/token`) });
    const again = await refresh('spa', tokens.refresh_token!, { dpop: await dpopProof(keys, `${server.issuer}/token`) });
    assert.equal(again.status, 200);
    assert.equal(again.body.refresh_token, first.body.refresh_token);

    const wrongKey = await refresh('spa', tokens.refresh_token!, { dpop: await dpopProof(other, `${server.issuer}/token`) });
    assert.equal(wrongKey.status, 400);
    assert.equal(wrongKey.body.access_token, undefined);
  });

  test('a confidential client that rotated with a DPoP key cannot have the response repeated to another key', async () => {
    const keys = await generateKeyPair('ES256');
    const other = await generateKeyPair('ES256');
    const { tokens } = await signIn('victim');
    const first = await refresh('victim', tokens.refresh_token!, { dpop: await dpopProof(keys, `${server.issuer}/token`) });
    assert.equal(first.status, 200);
    assert.equal(first.body.token_type, 'DPoP');
    const otherKey = await refresh('victim', tokens.refresh_token!, { dpop: await dpopProof(other, `${server.issuer}/token`) });
    assert.equal(otherKey.status, 400);
    assert.equal(otherKey.body.access_token, undefined);
    const noKey = await refresh('victim', first.body.refresh_token as string);
    assert.equal(noKey.status, 400, 'the attempt counted as reuse: the family is gone');
  });
});

describe('grants are per authorization; consent is per person and app', () => {
  test('reuse detected on one device ends that device’s tokens only; the other device was not asked to consent again', async () => {
    const laptop = await signIn('victim');
    const phoneJar = new CookieJar();
    const phone = await signIn('victim', { jar: phoneJar });
    assert.notEqual(laptop.tokens.refresh_token, phone.tokens.refresh_token);

    const rotated = await refresh('victim', laptop.tokens.refresh_token!);
    await sleep((GRACE_SECONDS + 0.5) * 1000);
    assert.equal((await refresh('victim', laptop.tokens.refresh_token!)).body.error, 'invalid_grant');
    assert.equal(await refreshWorks('victim', rotated.body.refresh_token as string), false, 'the laptop family is revoked');
    assert.equal(await refreshWorks('victim', phone.tokens.refresh_token!), true, 'the phone keeps working');
  });

  test('a second device asks for no consent the person already gave', async () => {
    const configuration = await configFor('victim');
    const url = oidc.buildAuthorizationUrl(configuration, {
      redirect_uri: REDIRECT,
      scope: 'openid offline_access',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    const first = await runBrowser(url, { email: USER.email, password: USER.password });
    const second = await runBrowser(url, { email: USER.email, password: USER.password });
    assert.ok(first.url.searchParams.get('code'));
    assert.deepEqual(second.pages, ['login'], 'no consent page on the second device');
    const grants = await server.services.grants.listForAccount((await server.services.accounts.get(USER.email)).id);
    assert.ok(new Set(grants.map((grant) => grant.id)).size >= 2, 'each sign-in has a grant of its own');
  });
});

describe('a rotation that died half-way', () => {
  test('a claim that never completed is taken over after its lease; what it stored is removed; the retry succeeds once', async () => {
    const { tokens } = await signIn('victim');
    const id = hashTokenId(tokens.refresh_token!);
    // An instance claims the token, stores a successor nobody receives, and dies.
    assert.equal(await server.services.tokenStore.claimRefreshToken(id, 'dead-instance', 5_000), 'claimed');
    const orphan = `orphan-${randomUUID()}`;
    await server.database.prisma.oidcRefreshToken.create({
      data: { id: hashTokenId(orphan), grantId: 'unused', payload: {}, rotatedFrom: id, expiresAt: new Date(Date.now() + 60_000) },
    });

    const started = Date.now();
    const [a, b] = await Promise.all([refresh('victim', tokens.refresh_token!), refresh('victim', tokens.refresh_token!)]);
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    assert.equal(a.body.refresh_token, b.body.refresh_token, 'one successor');
    assert.ok(Date.now() - started < 9_000, 'taken over once the lease ran out');
    assert.equal(await server.database.prisma.oidcRefreshToken.count({ where: { id: hashTokenId(orphan) } }), 0);
    assert.equal(await refreshWorks('victim', a.body.refresh_token as string), true);
  });
});
