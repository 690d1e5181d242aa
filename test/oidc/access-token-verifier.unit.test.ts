import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';

import { exportJWK, generateKeyPair, SignJWT, type GenerateKeyPairResult, type JWK } from 'jose';
import type Provider from 'oidc-provider';

import { CLIENT_GENERATION_CLAIM, createAccessTokenVerifier, GRANT_ID_CLAIM, type AccessTokenVerifier } from '../../src/oidc/access-token-verifier.ts';
import type { PrivateJwk } from '../../src/oidc/signing-keys.ts';
import { createMemoryTokenStore, type MemoryTokenStore } from '../fakes/memory-token-store.ts';

// The rules the verifier adds to a JWT access token's signature (src/oidc/access-token-
// verifier.ts), against an in-memory store and registry: a person's token lives with its
// grant, a client's with its client's token generation, a revoked one is denied, and only
// the token's own client may revoke it.

const ISSUER = 'https://issuer.example.com';
let signingKey: GenerateKeyPairResult['privateKey'];
let store: MemoryTokenStore;
let verifier: AccessTokenVerifier;
const clients = new Map<string, { tokenGeneration: string }>();

async function jwt(claims: Record<string, unknown>): Promise<string> {
  return new SignJWT({ client_id: 'svc', scope: 'read', ...claims })
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' })
    .setIssuer(ISSUER)
    .setAudience('https://api.example.com')
    .setJti(randomUUID())
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(signingKey);
}

before(async () => {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  signingKey = privateKey;
  const jwk = { ...(await exportJWK(privateKey)), kid: 'k1', alg: 'ES256', use: 'sig' } as PrivateJwk & JWK;
  store = createMemoryTokenStore();
  store.putGrant({ id: 'live-grant', accountId: 'alice', clientId: 'web', payload: {}, expiresAt: null });
  store.putGrant({ id: 'old-grant', accountId: 'alice', clientId: 'web', payload: {}, expiresAt: new Date(Date.now() - 1000) });
  clients.set('svc', { tokenGeneration: 'gen-2' });
  const provider = { AccessToken: { find: () => Promise.resolve(undefined) }, ClientCredentials: { find: () => Promise.resolve(undefined) } };
  verifier = createAccessTokenVerifier({
    provider: provider as unknown as Provider,
    tokenStore: store,
    clients: { find: (id) => Promise.resolve(clients.get(id)) },
    issuer: ISSUER,
    keys: [jwk],
  });
});

describe('the access token verifier (unit, fake store)', () => {
  test("a person's token verifies while its grant lives, and not once it is revoked or expired", async () => {
    const token = await jwt({ [GRANT_ID_CLAIM]: 'live-grant', sub: 'alice', client_id: 'web' });
    const verified = await verifier.verify(token);
    assert.equal(verified?.issuedTo, 'person');
    assert.equal(verified.grantId, 'live-grant');
    assert.equal(await verifier.verify(await jwt({ [GRANT_ID_CLAIM]: 'old-grant', client_id: 'web' })), undefined);
    assert.equal(await verifier.verify(await jwt({ [GRANT_ID_CLAIM]: 'no-such-grant', client_id: 'web' })), undefined);
    await store.revokeGrants(['live-grant']);
    assert.equal(await verifier.verify(token), undefined);
  });

  test("a client's token verifies only with its client's current token generation", async () => {
    assert.equal((await verifier.verify(await jwt({ [CLIENT_GENERATION_CLAIM]: 'gen-2' })))?.issuedTo, 'client');
    assert.equal(await verifier.verify(await jwt({ [CLIENT_GENERATION_CLAIM]: 'gen-1' })), undefined, 'an earlier generation');
    assert.equal(await verifier.verify(await jwt({ [CLIENT_GENERATION_CLAIM]: 'gen-2', client_id: 'deleted' })), undefined, 'a client that is gone');
  });

  test("a client's token lives with its client: the current generation, none stored (an opaque token from before generations), never another or a gone client", async () => {
    assert.equal(await verifier.clientTokenLive('svc', 'gen-2'), true);
    assert.equal(await verifier.clientTokenLive('svc', undefined), true, 'stored without a generation');
    assert.equal(await verifier.clientTokenLive('svc', 'gen-1'), false, 'an earlier generation');
    assert.equal(await verifier.clientTokenLive('svc', 42), false, 'not a generation at all');
    assert.equal(await verifier.clientTokenLive('deleted', undefined), false, 'a client that is gone');
    assert.equal(await verifier.clientTokenLive('unread', 'gen-9', 'gen-9'), true, 'the generation the caller holds is used, nothing read');
  });

  test("where GRANT_TYPES turns client credentials off, a client's token issued before is refused, JWT or opaque; a person's still verifies", async () => {
    const jwk = { ...(await exportJWK(signingKey)), kid: 'k1', alg: 'ES256', use: 'sig' } as PrivateJwk & JWK;
    let looked = 0;
    const provider = { AccessToken: { find: () => Promise.resolve(undefined) }, ClientCredentials: { find: () => Promise.resolve((looked += 1, undefined)) } };
    const off = createAccessTokenVerifier({ provider: provider as unknown as Provider, tokenStore: store, clients: { find: (id) => Promise.resolve(clients.get(id)) }, issuer: ISSUER, keys: [jwk], clientCredentialsServed: false });
    assert.equal(await off.verify(await jwt({ [CLIENT_GENERATION_CLAIM]: 'gen-2' })), undefined);
    assert.equal(await off.verify('an-opaque-client-credentials-token'), undefined);
    assert.equal(looked, 0, 'client-credentials tokens are not even looked up');
    store.putGrant({ id: 'grant-while-off', accountId: 'alice', clientId: 'web', payload: {}, expiresAt: null });
    assert.equal((await off.verify(await jwt({ [GRANT_ID_CLAIM]: 'grant-while-off', sub: 'alice', client_id: 'web' })))?.issuedTo, 'person');
  });

  test('a token naming neither a grant nor a client generation is refused', async () => {
    assert.equal(await verifier.verify(await jwt({})), undefined);
  });

  test('only its own client revokes a token; afterwards it is denied until it expires', async () => {
    const token = await jwt({ [CLIENT_GENERATION_CLAIM]: 'gen-2' });
    assert.equal(await verifier.revokeJwt(token, 'someone-else'), 'not_owner');
    assert.ok(await verifier.verify(token));
    assert.equal(await verifier.revokeJwt(token, 'svc'), 'revoked');
    assert.equal(await verifier.verify(token), undefined);
    assert.equal(await verifier.revokeJwt('not.a.jwt', 'svc'), 'unknown');
  });

  test('a token signed by another key, for another issuer, or of another type is refused', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT({ client_id: 'svc', [CLIENT_GENERATION_CLAIM]: 'gen-2' })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' })
      .setIssuer(ISSUER)
      .setJti(randomUUID())
      .setExpirationTime('5m')
      .sign(privateKey);
    assert.equal(await verifier.verify(forged), undefined);
    const idToken = await new SignJWT({ client_id: 'svc', [CLIENT_GENERATION_CLAIM]: 'gen-2' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer(ISSUER)
      .setJti(randomUUID())
      .setExpirationTime('5m')
      .sign(signingKey);
    assert.equal(await verifier.verify(idToken), undefined);
  });
});
