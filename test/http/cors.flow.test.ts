import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';

import { basicAuth } from '../helpers/token-endpoint.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// Cross-origin access: the engine's endpoints and /api answer with
// Access-Control-Allow-Origin only to origins registered on clients (for client endpoints:
// on the calling client); never `*`, never with credentials, always Vary: Origin.

const SPA_ORIGIN = 'https://spa.example';
const WEB_ORIGIN = 'https://web.example';
const EVIL = 'https://evil.example';
const REDIRECT = 'https://spa.example/callback';

const spa = 'spa';

let server: TestServer;
let web: { id: string; secret: string };

before(async () => {
  server = await startTestServer({ TRUST_PROXY: 'true', RATE_LIMIT_TOKEN: '5/1m', LOG_LEVEL: 'warn' }, {
    declare: (issuer) => ({
      clients: [
        { clientId: spa, type: 'spa', name: 'SPA', redirectUris: [REDIRECT], corsOrigins: [SPA_ORIGIN], resources: [`${issuer}/api`], scopes: ['openid', 'account:read'] },
        { clientId: 'web', type: 'web', name: 'Web', redirectUris: ['https://web.example/cb'], corsOrigins: [WEB_ORIGIN] },
      ],
    }),
  });
  web = { id: 'web', secret: server.declared.clientSecret('web') };
});

after(async () => {
  await server?.close();
});

interface Ask {
  method?: string;
  origin?: string;
  headers?: Record<string, string>;
  body?: string;
}

async function ask(path: string, options: Ask = {}): Promise<Response> {
  const response = await fetch(`${server.issuer}${path}`, {
    method: options.method ?? 'GET',
    headers: {
      ...(options.origin && { origin: options.origin }),
      ...(options.body !== undefined && { 'content-type': 'application/x-www-form-urlencoded' }),
      ...options.headers,
    },
    ...(options.body !== undefined && { body: options.body }),
  });
  await response.body?.cancel();
  return response;
}

const acao = (response: Response) => response.headers.get('access-control-allow-origin');
const varyOrigin = (response: Response) => /\borigin\b/i.test(response.headers.get('vary') ?? '');
const preflight = (path: string, origin: string, method = 'POST') =>
  ask(path, { method: 'OPTIONS', origin, headers: { 'access-control-request-method': method, 'access-control-request-headers': 'authorization' } });
const spaTokenRequest = (origin?: string, ip = '10.9.0.1') =>
  ask('/token', { method: 'POST', ...(origin && { origin }), headers: { 'x-forwarded-for': ip }, body: `grant_type=authorization_code&code=nope&client_id=${spa}&redirect_uri=${encodeURIComponent(REDIRECT)}&code_verifier=${'a'.repeat(43)}` });

describe('CORS at the engine’s endpoints', () => {
  test('without an Origin header nothing is allowed: the engine’s `*` is removed', async () => {
    for (const response of [await spaTokenRequest(), await ask('/.well-known/openid-configuration'), await ask('/jwks')]) {
      assert.equal(acao(response), null);
      assert.ok(response.status < 500);
    }
  });

  test('the token endpoint allows the calling client’s registered origin, without credentials', async () => {
    const response = await spaTokenRequest(SPA_ORIGIN);
    assert.equal(response.status, 400, 'invalid_grant, readable by the app');
    assert.equal(acao(response), SPA_ORIGIN);
    assert.equal(response.headers.get('access-control-allow-credentials'), null);
    assert.ok(varyOrigin(response));
  });

  test('the token endpoint gives no other origin access: not a stranger, not another client’s origin', async () => {
    for (const origin of [EVIL, WEB_ORIGIN, 'null']) {
      const response = await spaTokenRequest(origin);
      assert.equal(acao(response), null, origin);
      assert.ok(varyOrigin(response));
    }
  });

  test('a failed client authentication is not readable cross-origin by a stranger', async () => {
    const response = await ask('/token', { method: 'POST', origin: EVIL, headers: { authorization: basicAuth(web.id, 'wrong') }, body: 'grant_type=client_credentials' });
    assert.ok(response.status === 400 || response.status === 401, String(response.status));
    assert.equal(acao(response), null);
  });

  test('preflights: registered origins get the engine’s answer, any other origin none', async () => {
    for (const path of ['/token', '/token/introspection', '/token/revocation', '/me']) {
      const allowed = await preflight(path, SPA_ORIGIN);
      assert.equal(acao(allowed), SPA_ORIGIN, path);
      assert.match(allowed.headers.get('access-control-allow-methods') ?? '', /POST/, path);
      assert.equal(allowed.headers.get('access-control-max-age'), '3600', `${path}: the engine answered, not the API's CORS`);
      const refused = await preflight(path, EVIL);
      assert.equal(acao(refused), null, path);
      assert.equal(refused.headers.get('access-control-allow-methods'), null, path);
      assert.ok(varyOrigin(refused), path);
    }
  });

  test('discovery and JWKS answer registered origins only', async () => {
    for (const path of ['/.well-known/openid-configuration', '/jwks']) {
      assert.equal(acao(await ask(path, { origin: SPA_ORIGIN })), SPA_ORIGIN);
      assert.equal(acao(await ask(path, { origin: WEB_ORIGIN })), WEB_ORIGIN);
      const refused = await ask(path, { origin: EVIL });
      assert.equal(acao(refused), null);
      assert.ok(varyOrigin(refused));
    }
  });

  test('userinfo without a token gives a stranger nothing', async () => {
    assert.equal(acao(await ask('/me', { origin: EVIL })), null);
  });

  test('a registered origin can read a 429 (and its Retry-After); a stranger cannot', async () => {
    let last: Response | undefined;
    for (let i = 0; i < 6; i++) last = await spaTokenRequest(SPA_ORIGIN, '10.9.9.9');
    assert.equal(last!.status, 429);
    assert.equal(acao(last!), SPA_ORIGIN);
    assert.match(last!.headers.get('access-control-expose-headers') ?? '', /Retry-After/);
    const stranger = await spaTokenRequest(EVIL, '10.9.9.9');
    assert.equal(stranger.status, 429);
    assert.equal(acao(stranger), null);
    // Repeats are answered before the rest of the stack, with the same CORS decision.
    const repeat = await spaTokenRequest(SPA_ORIGIN, '10.9.9.9');
    assert.equal(repeat.status, 429);
    assert.equal(repeat.headers.get('x-request-id'), null, 'answered by the repeat-refusal gate');
    assert.equal(acao(repeat), SPA_ORIGIN);
    assert.ok(varyOrigin(repeat));
  });
});

describe('CORS at the account API', () => {
  test('registered origins may call it and read its challenge; never with credentials', async () => {
    const response = await ask('/api/me', { origin: SPA_ORIGIN });
    assert.equal(response.status, 401);
    assert.equal(acao(response), SPA_ORIGIN);
    assert.equal(response.headers.get('access-control-allow-credentials'), null);
    assert.match(response.headers.get('access-control-expose-headers') ?? '', /WWW-Authenticate/);
    assert.ok(varyOrigin(response));
  });

  test('any other origin gets no Access-Control-Allow-Origin, on requests and preflights', async () => {
    const response = await ask('/api/me', { origin: EVIL });
    assert.equal(acao(response), null);
    assert.ok(varyOrigin(response));
    const refused = await preflight('/api/grants/x', EVIL, 'DELETE');
    assert.equal(acao(refused), null);
    assert.equal(refused.headers.get('access-control-allow-methods'), null);
  });

  test('a registered origin’s preflight names the methods and the Authorization and DPoP headers', async () => {
    const allowed = await preflight('/api/grants/x', SPA_ORIGIN, 'DELETE');
    assert.equal(allowed.status, 204);
    assert.equal(acao(allowed), SPA_ORIGIN);
    assert.equal(allowed.headers.get('access-control-allow-methods'), 'GET,DELETE');
    assert.equal(allowed.headers.get('access-control-allow-headers'), 'Authorization,DPoP');
    assert.equal(allowed.headers.get('access-control-allow-credentials'), null);
  });

  test('an origin registered after start works within seconds, without a restart', async () => {
    const late = 'https://late.example';
    assert.equal(acao(await ask('/api/me', { origin: late })), null);
    await server.services.clients.create({ type: 'spa', name: 'Late', redirectUris: ['https://late.example/cb'], corsOrigins: [late] });
    await sleep(5_100); // an unknown origin reloads the registered list at most every 5 s
    assert.equal(acao(await ask('/api/me', { origin: late })), late);
  });
});
