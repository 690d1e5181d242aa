import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import * as oidc from 'openid-client';

import { hashTokenId } from '../../src/oidc/index.ts';
import { authorizationRequest, runBrowser } from '../helpers/browserless-login.ts';
import { captureAudit } from '../helpers/capture-audit.ts';
import { startTestServer, type TestDeclaration, type TestServer } from '../helpers/test-server.ts';
import { basicAuth, postAsClient } from '../helpers/token-endpoint.ts';

// Token exchange (RFC 8693), as an attacker would try it: a token exchanged by a client that
// does not hold it, for a resource server its policy does not name, for more scope than it
// carried; a revoked, expired, bound or client-credentials subject token; an exchanged
// token outliving the grant it came from. On the embedded database and Postgres.

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const REDIRECT = 'http://localhost:8080/callback';
const PASSWORD = 'a long and correct password';
const GATEWAY = 'https://gateway.example.com';
const ORDERS = 'https://orders.example.com';
const LEDGER = 'https://ledger.example.com';
const OTHER = 'https://other.example.com';
const orderScopes = [{ name: 'orders:read', description: 'Read orders' }, { name: 'orders:write', description: 'Change orders' }];

const declaration: TestDeclaration = {
  resources: [
    // People's tokens for the gateway are opaque, for orders JWTs, for the ledger opaque again.
    { indicator: GATEWAY, name: 'Gateway', scopes: orderScopes, accessTokenFormat: 'opaque', accessTokenTtl: 120 },
    { indicator: ORDERS, name: 'Orders', scopes: orderScopes, accessTokenFormat: 'jwt' },
    { indicator: LEDGER, name: 'Ledger', scopes: orderScopes, accessTokenFormat: 'opaque' },
    { indicator: OTHER, name: 'Other', scopes: orderScopes },
  ],
  clients: [
    { type: 'web', clientId: 'web-app', name: 'Web App', redirectUris: [REDIRECT], resources: [GATEWAY], scopes: ['openid', 'orders:read', 'orders:write'] },
    // The gateway's back end: receives people's tokens for the gateway, calls orders (and the ledger) on their behalf.
    { type: 'resource-server', clientId: 'gateway', name: 'Gateway', resources: [GATEWAY], grantTypes: [TOKEN_EXCHANGE], exchangeAudiences: [ORDERS, LEDGER], scopes: ['orders:read', 'orders:write'] },
    { type: 'resource-server', clientId: 'impersonator', name: 'Impersonating gateway', resources: [GATEWAY], grantTypes: [TOKEN_EXCHANGE], exchangeAudiences: [ORDERS], exchangeAct: false, scopes: ['orders:read'] },
    // Serves another API: it never receives the gateway's tokens, so it holds none of them.
    { type: 'resource-server', clientId: 'stranger', name: 'Stranger', resources: [OTHER], grantTypes: [TOKEN_EXCHANGE], exchangeAudiences: [ORDERS], scopes: ['orders:read'] },
    // Orders' back end, exchanging what it received for the ledger: a chain of actors.
    { type: 'resource-server', clientId: 'orders', name: 'Orders', resources: [ORDERS], grantTypes: [TOKEN_EXCHANGE], exchangeAudiences: [LEDGER], scopes: ['orders:read'] },
    // Orders' back end again, impersonating: it adds no act of its own, and keeps the gateway's.
    { type: 'resource-server', clientId: 'orders-quiet', name: 'Quiet orders', resources: [ORDERS], grantTypes: [TOKEN_EXCHANGE], exchangeAudiences: [LEDGER], exchangeAct: false, scopes: ['orders:read'] },
    { type: 'service', clientId: 'batch', name: 'Batch', resources: [GATEWAY], grantTypes: ['client_credentials', TOKEN_EXCHANGE], exchangeAudiences: [ORDERS], scopes: ['orders:read'] },
    { type: 'resource-server', clientId: 'introspector', name: 'Introspector', resources: [ORDERS, LEDGER] },
  ],
  users: [{ email: 'exchange@example.com', name: 'Exchange', password: PASSWORD }],
};

const audit = captureAudit();
let server: TestServer;
let webApp: oidc.Configuration;

before(async () => {
  server = await startTestServer({ LOG_LEVEL: 'warn', GRANT_TYPES: 'authorization_code,refresh_token,client_credentials,token_exchange' }, { declare: declaration, audit });
  webApp = await oidc.discovery(new URL(server.issuer), 'web-app', undefined, oidc.ClientSecretBasic(server.declared.clientSecret('web-app')), { execute: [oidc.allowInsecureRequests] });
});
after(async () => {
  await server?.close();
});

const as = (clientId: string) => basicAuth(clientId, server.declared.clientSecret(clientId));

/** A person's access token for the gateway, as the web app got it; and its grant. */
async function personToken(scope = 'orders:read'): Promise<{ token: string; grantId: string }> {
  const request = authorizationRequest(server.issuer, { client_id: 'web-app', redirect_uri: REDIRECT, scope: `openid ${scope}`, resource: GATEWAY });
  const result = await runBrowser(request.url, { email: 'exchange@example.com', password: PASSWORD });
  const tokens = await oidc.authorizationCodeGrant(webApp, result.url, { pkceCodeVerifier: request.verifier, expectedState: request.state }, { resource: GATEWAY });
  // Each sign-in is its own grant (one per authorization); the token's row names it.
  const row = await server.database.prisma.oidcAccessToken.findUniqueOrThrow({ where: { id: hashTokenId(tokens.access_token) } });
  assert.ok(row.grantId);
  return { token: tokens.access_token, grantId: row.grantId };
}

function exchange(clientId: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  const body = new URLSearchParams({ grant_type: TOKEN_EXCHANGE, subject_token_type: ACCESS_TOKEN_TYPE, ...fields });
  return fetch(`${server.issuer}/token`, { method: 'POST', headers: { authorization: as(clientId), 'content-type': 'application/x-www-form-urlencoded', ...headers }, body });
}

async function refused(response: Response, error: string): Promise<string> {
  const body = (await response.json()) as { error: string; error_description?: string };
  assert.equal(response.status, 400, JSON.stringify(body));
  assert.equal(body.error, error, JSON.stringify(body));
  return body.error_description ?? '';
}

async function introspect(token: string): Promise<Record<string, unknown>> {
  const response = await postAsClient(`${server.issuer}/token/introspection`, as('introspector'), { token });
  assert.equal(response.status, 200);
  return (await response.json()) as Record<string, unknown>;
}

interface Exchanged {
  access_token: string;
  issued_token_type: string;
  token_type: string;
  expires_in: number;
  scope: string;
  refresh_token?: string;
}

describe('a client exchanges a token it holds', () => {
  test('the gateway gets a token for orders with the subject token’s scope, naming it as the actor (act); verified as a JWT and by introspection', async () => {
    const subject = await personToken();
    const started = audit.events.length;
    const response = await exchange('gateway', { subject_token: subject.token, resource: ORDERS });
    assert.equal(response.status, 200);
    const body = (await response.json()) as Exchanged;
    assert.equal(body.issued_token_type, ACCESS_TOKEN_TYPE);
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.scope, 'orders:read');
    assert.equal(body.refresh_token, undefined);

    const { payload } = await jwtVerify(body.access_token, createRemoteJWKSet(new URL(`${server.issuer}/jwks`)), { issuer: server.issuer, audience: ORDERS, typ: 'at+jwt' });
    assert.equal(payload.sub, server.declared.accountId('exchange@example.com'));
    assert.equal(payload.client_id, 'gateway');
    assert.equal(payload.scope, 'orders:read');
    assert.deepEqual(payload.act, { sub: 'gateway' });
    assert.ok(typeof payload.gid === 'string' && payload.gid !== subject.grantId, 'its own grant, not the subject’s');

    const facts = await introspect(body.access_token);
    assert.equal(facts.active, true);
    assert.deepEqual(facts.act, { sub: 'gateway' });

    const types = audit.events.slice(started).map((event) => event.type);
    assert.ok(types.includes('token.exchanged') && types.includes('token.issued'), types.join(', '));
    const exchanged = audit.events.slice(started).find((event) => event.type === 'token.exchanged');
    assert.deepEqual({ ...exchanged?.data }, { subjectClientId: 'web-app', subjectGrantId: subject.grantId, grantId: payload.gid, resource: ORDERS, scope: 'orders:read', act: true });
    assert.ok(!JSON.stringify(audit.events.slice(started)).includes(subject.token), 'no token in the audit trail');
  });

  test('audience works as resource does; a client registered to impersonate gets no act claim', async () => {
    const subject = await personToken();
    const response = await exchange('impersonator', { subject_token: subject.token, audience: ORDERS });
    assert.equal(response.status, 200);
    const { access_token: token } = (await response.json()) as Exchanged;
    const facts = await introspect(token);
    assert.equal(facts.active, true);
    assert.equal(facts.act, undefined);
    assert.equal(facts.client_id, 'impersonator');
  });

  test('a token exchanged again by the next service nests the actors', async () => {
    const subject = await personToken();
    const first = (await (await exchange('gateway', { subject_token: subject.token, resource: ORDERS })).json()) as Exchanged;
    const second = await exchange('orders', { subject_token: first.access_token, resource: LEDGER });
    assert.equal(second.status, 200);
    const facts = await introspect(((await second.json()) as Exchanged).access_token);
    assert.equal(facts.active, true);
    assert.deepEqual(facts.act, { sub: 'orders', act: { sub: 'gateway' } });
  });
});

describe('what a token exchange never gives', () => {
  test('a renewal: the new token lives no longer than the subject token, and a client may not exchange again a token it made by exchange', async () => {
    const subject = await personToken();
    // The gateway's tokens live 120 s, orders' an hour: the exchanged one no longer than its subject.
    const exchanged = (await (await exchange('gateway', { subject_token: subject.token, resource: ORDERS })).json()) as Exchanged;
    assert.ok(exchanged.expires_in <= 120, `expires_in ${exchanged.expires_in}`);
    assert.ok(decodeJwt(exchanged.access_token).exp! <= Math.floor(Date.now() / 1000) + 120);
    await refused(await exchange('gateway', { subject_token: exchanged.access_token, resource: LEDGER }), 'invalid_request');
    await refused(await exchange('gateway', { subject_token: exchanged.access_token, resource: ORDERS }), 'invalid_request');
  });

  test('an impersonating client keeps the actors the subject token names', async () => {
    const subject = await personToken();
    const first = (await (await exchange('gateway', { subject_token: subject.token, resource: ORDERS })).json()) as Exchanged;
    const quiet = await exchange('orders-quiet', { subject_token: first.access_token, resource: LEDGER });
    assert.equal(quiet.status, 200);
    const facts = await introspect(((await quiet.json()) as Exchanged).access_token);
    assert.equal(facts.client_id, 'orders-quiet');
    assert.deepEqual(facts.act, { sub: 'gateway' });
  });

  test('more scope than the subject token carried: invalid_scope; without scope, only what it carried', async () => {
    const subject = await personToken('orders:read');
    await refused(await exchange('gateway', { subject_token: subject.token, resource: ORDERS, scope: 'orders:write' }), 'invalid_scope');
    await refused(await exchange('gateway', { subject_token: subject.token, resource: ORDERS, scope: 'orders:read orders:write' }), 'invalid_scope');
    // The impersonator is registered for orders:read only: a subject carrying both gets that.
    const both = await personToken('orders:read orders:write');
    const narrowed = (await (await exchange('impersonator', { subject_token: both.token, resource: ORDERS })).json()) as Exchanged;
    assert.equal(narrowed.scope, 'orders:read');
    await refused(await exchange('impersonator', { subject_token: both.token, resource: ORDERS, scope: 'orders:write' }), 'invalid_scope');
  });

  test('a resource server outside the policy, none, or two: invalid_target', async () => {
    const subject = await personToken();
    await refused(await exchange('gateway', { subject_token: subject.token, resource: OTHER }), 'invalid_target');
    await refused(await exchange('gateway', { subject_token: subject.token, resource: 'https://unregistered.example.com' }), 'invalid_target');
    await refused(await exchange('gateway', { subject_token: subject.token }), 'invalid_target');
    const body = new URLSearchParams({ grant_type: TOKEN_EXCHANGE, subject_token_type: ACCESS_TOKEN_TYPE, subject_token: subject.token });
    body.append('resource', ORDERS);
    body.append('audience', LEDGER);
    await refused(await fetch(`${server.issuer}/token`, { method: 'POST', headers: { authorization: as('gateway'), 'content-type': 'application/x-www-form-urlencoded' }, body }), 'invalid_target');
  });

  test('a token the client does not hold (issued to another client, for an API it does not serve): invalid_request, and nothing issued', async () => {
    const subject = await personToken();
    const started = audit.events.length;
    await refused(await exchange('stranger', { subject_token: subject.token, resource: ORDERS }), 'invalid_request');
    // The batch service is no resource server: a person's token for the gateway is not its.
    await refused(await exchange('batch', { subject_token: subject.token, resource: ORDERS }), 'invalid_request');
    assert.ok(!audit.events.slice(started).some((event) => event.type === 'token.exchanged' || event.type === 'token.issued'));
  });

  test('a client not registered for the grant is refused, also the one the token was issued to', async () => {
    const subject = await personToken();
    await refused(await exchange('web-app', { subject_token: subject.token, resource: ORDERS }), 'unauthorized_client');
  });

  test('unacceptable subject tokens: unknown, of another type, a client’s own (client credentials), or with an actor token: invalid_request', async () => {
    const subject = await personToken();
    await refused(await exchange('gateway', { subject_token: 'not-a-token', resource: ORDERS }), 'invalid_request');
    await refused(await exchange('gateway', { subject_token: subject.token, subject_token_type: 'urn:ietf:params:oauth:token-type:refresh_token', resource: ORDERS }), 'invalid_request');
    await refused(await exchange('gateway', { subject_token: subject.token, resource: ORDERS, requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' }), 'invalid_request');
    await refused(await exchange('gateway', { subject_token: subject.token, resource: ORDERS, actor_token: subject.token, actor_token_type: ACCESS_TOKEN_TYPE }), 'invalid_request');
    await refused(await exchange('gateway', { resource: ORDERS }), 'invalid_request');
    const machine = await postAsClient(`${server.issuer}/token`, as('batch'), { grant_type: 'client_credentials', resource: GATEWAY, scope: 'orders:read' });
    assert.equal(machine.status, 200);
    const { access_token: own } = (await machine.json()) as { access_token: string };
    await refused(await exchange('batch', { subject_token: own, resource: ORDERS }), 'invalid_request');
  });

  test('a DPoP proof is refused (exchanged tokens would be bearer tokens): invalid_request', async () => {
    const subject = await personToken();
    await refused(await exchange('gateway', { subject_token: subject.token, resource: ORDERS }, { DPoP: 'eyJ0eXAiOiJkcG9wK2p3dCJ9.e30.sig' }), 'invalid_request');
  });

  test('a disabled person’s token is not exchanged', async () => {
    const subject = await personToken();
    // Straight in the table: disabling through the service also revokes every grant, which
    // would refuse the token before the person is looked at.
    const id = server.declared.accountId('exchange@example.com');
    await server.database.prisma.account.update({ where: { id }, data: { disabled: true } });
    try {
      await refused(await exchange('gateway', { subject_token: subject.token, resource: ORDERS }), 'invalid_request');
    } finally {
      await server.database.prisma.account.update({ where: { id }, data: { disabled: false } });
    }
  });
});

describe('an exchanged token lives no longer than what it came from', () => {
  test('revoking the subject token’s grant ends every token exchanged from it (JWT and opaque, and down the chain), and the subject is not exchanged again', async () => {
    const subject = await personToken();
    const jwt = (await (await exchange('gateway', { subject_token: subject.token, resource: ORDERS })).json()) as Exchanged;
    const opaque = (await (await exchange('gateway', { subject_token: subject.token, resource: LEDGER })).json()) as Exchanged;
    const chained = (await (await exchange('orders', { subject_token: jwt.access_token, resource: LEDGER })).json()) as Exchanged;
    assert.equal(decodeJwt(jwt.access_token).aud, ORDERS);
    assert.ok(!opaque.access_token.includes('.') && !subject.token.includes('.'), 'the ledger’s and the gateway’s tokens are opaque');
    for (const token of [jwt, opaque, chained]) assert.equal((await introspect(token.access_token)).active, true);

    await server.services.grants.revokeGrant(subject.grantId);
    for (const token of [jwt, opaque, chained]) assert.equal((await introspect(token.access_token)).active, false);
    await refused(await exchange('gateway', { subject_token: subject.token, resource: ORDERS }), 'invalid_request');
  });

  test('revoking the subject access token itself (RFC 7009) ends what was exchanged from it, JWT and opaque', async () => {
    const subject = await personToken();
    const jwt = (await (await exchange('gateway', { subject_token: subject.token, resource: ORDERS })).json()) as Exchanged;
    const opaque = (await (await exchange('gateway', { subject_token: subject.token, resource: LEDGER })).json()) as Exchanged;
    assert.equal((await postAsClient(`${server.issuer}/token/revocation`, as('web-app'), { token: subject.token })).status, 200);
    for (const token of [jwt, opaque]) assert.equal((await introspect(token.access_token)).active, false);
  });

  test('the exchanged grant expires no later than the subject token’s grant', async () => {
    const subject = await personToken();
    const exchanged = (await (await exchange('gateway', { subject_token: subject.token, resource: ORDERS })).json()) as Exchanged;
    const { gid } = decodeJwt(exchanged.access_token);
    assert.ok(typeof gid === 'string');
    const [parent, child] = await Promise.all([
      server.database.prisma.oidcGrant.findUniqueOrThrow({ where: { id: subject.grantId } }),
      server.database.prisma.oidcGrant.findUniqueOrThrow({ where: { id: gid } }),
    ]);
    assert.equal(child.parentId, subject.grantId);
    assert.ok(parent.expiresAt && child.expiresAt && child.expiresAt.getTime() <= parent.expiresAt.getTime() + 1000);
  });
});
