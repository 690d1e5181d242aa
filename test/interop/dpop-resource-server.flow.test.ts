import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http, { type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';

import { calculateJwkThumbprint, createRemoteJWKSet, EmbeddedJWK, jwtVerify } from 'jose';
import * as oidc from 'openid-client';

import { basicAuth } from '../helpers/token-endpoint.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// A third-party resource server protecting its API with Portcullis' DPoP-bound JWT access
// tokens, written only from the RFCs and the discovery document, as an outside team would:
// jose verifies the token against jwks_uri (RFC 9068) and the proof (RFC 9449 section 4.3,
// cnf.jkt section 6.1), and the token is introspected with the server's own credentials,
// which must name the same binding (section 6.2). openid-client is the DPoP client.

const ORDERS = 'https://orders.example.com';

let server: TestServer;
let orders: http.Server;
let ordersUrl: string;
let service: oidc.Configuration;
const ids: Record<string, { id: string; secret: string }> = {};

/** openid-client's view of a refusal: the error of the server's DPoP challenge. */
function refusedWith(expected: string) {
  return (error: unknown) => {
    assert.ok(error instanceof oidc.WWWAuthenticateChallengeError, String(error));
    assert.equal(error.status, 401);
    assert.equal(error.cause[0]?.scheme, 'dpop');
    assert.equal(error.cause[0]?.parameters.error, expected);
    return true;
  };
}

type Verdict = { ok: true; sub: string } | { ok: false; error: string; why: string };

/** The resource server's whole access check, from its own reading of the standards. */
function createOrdersCheck(options: { metadata: Record<string, unknown>; url: () => string; credentials: { id: string; secret: string } }) {
  const { metadata } = options;
  const jwks = createRemoteJWKSet(new URL(String(metadata.jwks_uri)));
  const algorithms = metadata.dpop_signing_alg_values_supported as string[];
  const seen = new Set<string>();
  const refuse = (error: string, why: string): Verdict => ({ ok: false, error, why });

  return async (req: IncomingMessage): Promise<Verdict> => {
    const [scheme, token] = (req.headers.authorization ?? '').split(' ');
    const proofs = req.headersDistinct.dpop ?? [];
    if (scheme !== 'DPoP' || !token || proofs.length !== 1) return refuse('invalid_token', 'DPoP scheme with one proof required');
    let claims;
    try {
      ({ payload: claims } = await jwtVerify(token, jwks, { issuer: String(metadata.issuer), audience: ORDERS, typ: 'at+jwt' }));
    } catch (error) {
      return refuse('invalid_token', `token: ${(error as Error).message}`);
    }
    const jkt = (claims.cnf as { jkt?: string } | undefined)?.jkt;
    if (!jkt) return refuse('invalid_token', 'token is not DPoP-bound');
    let proof;
    try {
      proof = await jwtVerify(proofs[0]!, EmbeddedJWK, { typ: 'dpop+jwt', algorithms, maxTokenAge: 60 });
    } catch (error) {
      return refuse('invalid_dpop_proof', `proof: ${(error as Error).message}`);
    }
    const { htm, htu, ath, jti } = proof.payload as { htm?: string; htu?: string; ath?: string; jti?: string };
    const target = new URL(req.url ?? '/', options.url());
    target.search = '';
    if (htm !== req.method) return refuse('invalid_dpop_proof', 'htm');
    if (htu !== target.href) return refuse('invalid_dpop_proof', `htu ${htu} is not ${target.href}`);
    if (ath !== createHash('sha256').update(token).digest('base64url')) return refuse('invalid_dpop_proof', 'ath');
    if ((await calculateJwkThumbprint(proof.protectedHeader.jwk!)) !== jkt) return refuse('invalid_dpop_proof', 'key');
    if (!jti || seen.has(jti)) return refuse('invalid_dpop_proof', 'replay');
    seen.add(jti);

    const introspection = await fetch(String(metadata.introspection_endpoint), {
      method: 'POST',
      headers: { authorization: basicAuth(options.credentials.id, options.credentials.secret), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }),
    });
    const facts = (await introspection.json()) as { active?: boolean; token_type?: string; cnf?: { jkt?: string } };
    if (!facts.active) return refuse('invalid_token', 'introspection: inactive');
    if (facts.token_type !== 'DPoP' || facts.cnf?.jkt !== jkt) {
      return refuse('invalid_token', `introspection: token_type ${facts.token_type}, cnf ${JSON.stringify(facts.cnf)}`);
    }
    return { ok: true, sub: String(claims.sub) };
  };
}

before(async () => {
  server = await startTestServer();
  await server.services.resources.create({ indicator: ORDERS, name: 'Orders', scopes: [{ name: 'orders:read' }], accessTokenFormat: 'jwt' });
  for (const [name, input] of [
    ['service', { type: 'service', name: 'Order sync', resources: [ORDERS], scopes: ['orders:read'] }],
    ['orders', { type: 'resource-server', name: 'Orders API', resources: [ORDERS] }],
  ] as const) {
    const created = await server.services.clients.create(input);
    ids[name] = { id: created.client.clientId, secret: created.clientSecret! };
  }
  service = await oidc.discovery(new URL(server.issuer), ids.service!.id, undefined, oidc.ClientSecretBasic(ids.service!.secret), {
    execute: [oidc.allowInsecureRequests],
  });

  const metadata = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
  const check = createOrdersCheck({ metadata, url: () => ordersUrl, credentials: ids.orders! });
  orders = http.createServer((req, res) => {
    void check(req).then((verdict) => {
      res.setHeader('content-type', 'application/json');
      if (verdict.ok) {
        res.end(JSON.stringify({ orders: [], for: verdict.sub }));
      } else {
        res.statusCode = 401;
        res.setHeader('www-authenticate', `DPoP error="${verdict.error}", algs="${(metadata.dpop_signing_alg_values_supported as string[]).join(' ')}"`);
        res.end(JSON.stringify({ error: verdict.error, error_description: verdict.why }));
      }
    });
  });
  await new Promise<void>((resolve) => orders.listen(0, '127.0.0.1', resolve));
  ordersUrl = `http://127.0.0.1:${(orders.address() as AddressInfo).port}`;
});

after(async () => {
  orders?.closeAllConnections();
  await new Promise<void>((resolve) => (orders ? orders.close(() => resolve()) : resolve()));
  await server?.close();
});

describe('a third-party resource server checks DPoP-bound JWT access tokens with jose', () => {
  test('a token openid-client bound to its key passes the server’s local and introspection checks', async () => {
    const DPoP = oidc.getDPoPHandle(service, await oidc.randomDPoPKeyPair('ES256'));
    const tokens = await oidc.clientCredentialsGrant(service, { resource: ORDERS, scope: 'orders:read' }, { DPoP });
    assert.equal(tokens.token_type.toLowerCase(), 'dpop');
    const response = await oidc.fetchProtectedResource(service, tokens.access_token, new URL(`${ordersUrl}/orders`), 'GET', undefined, undefined, { DPoP });
    const body = (await response.json()) as Record<string, unknown>;
    assert.equal(response.status, 200, JSON.stringify(body));
    assert.equal(body.for, ids.service!.id);
  });

  test('the same token with another key’s proof is refused by the server', async () => {
    const DPoP = oidc.getDPoPHandle(service, await oidc.randomDPoPKeyPair('ES256'));
    const tokens = await oidc.clientCredentialsGrant(service, { resource: ORDERS, scope: 'orders:read' }, { DPoP });
    const thief = oidc.getDPoPHandle(service, await oidc.randomDPoPKeyPair('ES256'));
    await assert.rejects(
      oidc.fetchProtectedResource(service, tokens.access_token, new URL(`${ordersUrl}/orders`), 'GET', undefined, undefined, { DPoP: thief }),
      refusedWith('invalid_dpop_proof'),
    );
  });

  test('once the client revokes the token, introspection tells the server and it refuses', async () => {
    const DPoP = oidc.getDPoPHandle(service, await oidc.randomDPoPKeyPair('ES256'));
    const tokens = await oidc.clientCredentialsGrant(service, { resource: ORDERS, scope: 'orders:read' }, { DPoP });
    await oidc.tokenRevocation(service, tokens.access_token);
    await assert.rejects(
      oidc.fetchProtectedResource(service, tokens.access_token, new URL(`${ordersUrl}/orders`), 'GET', undefined, undefined, { DPoP }),
      refusedWith('invalid_token'),
    );
  });
});
