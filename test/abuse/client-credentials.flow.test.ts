import assert from 'node:assert/strict';
import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';

import { parseBasic } from '../../src/abuse/client-credentials.ts';
import { address } from '../helpers/abuse.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// The client a request claims is read as the engine reads it: whatever Basic header the
// engine refuses before checking a secret (400) is no attempt at that client, and whatever
// it checks (401 on a wrong secret) is one. A client id in the form body is read from the
// stream and put back, so the engine still reads the whole body itself, and never warns.

const API = 'https://api.example.test';
const REDIRECT = 'http://localhost:8080/callback';

let server: TestServer;
let service: { id: string; secret: string };
let spa: string;
const warnings: string[] = [];
const warn = console.warn;

before(async () => {
  console.warn = (...args: unknown[]) => {
    warnings.push(args.map(String).join(' '));
    warn(...args);
  };
  server = await startTestServer({ TRUST_PROXY: 'true', LOG_LEVEL: 'warn' });
  await server.services.resources.create({ indicator: API, name: 'API', scopes: [{ name: 'read' }], accessTokenFormat: 'jwt' });
  const created = await server.services.clients.create({ clientId: 'svc.one', type: 'service', name: 'Service', resources: [API], scopes: ['read'] });
  service = { id: created.client.clientId, secret: created.clientSecret! };
  spa = (await server.services.clients.create({ type: 'spa', name: 'SPA', redirectUris: [REDIRECT] })).client.clientId;
});

after(async () => {
  console.warn = warn;
  await server?.close();
});

const token = (ip: string, headers: Record<string, string>, body: string) =>
  fetch(`${server.issuer}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip, ...headers }, body });

const b64 = (value: string) => Buffer.from(value).toString('base64');

describe('the claimed client', () => {
  test('every Basic header the engine refuses unchecked is malformed to us, and every one it checks is a claim', async () => {
    const cases = [
      `Basic ${b64(`${service.id}:wrong`)}`,
      `basic ${b64(`${service.id}:wrong`)}`,
      `Basic ${b64(`${service.id.replace('.', '%2E')}:wrong`)}`,
      `Basic ${b64(`${service.id}:wrong+secret`)}`,
      `Basic ${b64(`${service.id}:%zz`)}`,
      `Basic ${b64(`${service.id}%zz:wrong`)}`,
      `Basic ${b64(`${service.id}:`)}`,
      `Basic ${b64(`:wrong`)}`,
      `Basic ${b64(`${service.id}`)}`,
      `Basic ${b64(`${service.id}:s\u00e9cret`)}`,
      `Basic ${b64(`${service.id}:tab\there`)}`,
      `Basic ${b64(`${service.id}:wrong`)}=`,
      `Basic ${b64(`${service.id}:wrong`).replace(/=+$/, '')}`,
      `Basic  ${b64(`${service.id}:wrong`)}`,
      `Basic ${b64(`${service.id}:wrong`)} extra`,
      'Basic a',
      'Basic',
      'Bearer abc',
    ];
    for (const [i, authorization] of cases.entries()) {
      const response = await token(address(i, 20), { authorization }, 'grant_type=client_credentials');
      const body = (await response.json()) as { error: string };
      const claim = parseBasic(authorization);
      if (claim.kind === 'malformed') assert.deepEqual([response.status, body.error], [400, 'invalid_request'], authorization);
      else assert.deepEqual([response.status, body.error, claim.kind === 'credential' && claim.clientId], [401, 'invalid_client', service.id], authorization);
    }
    const right = await token(address(99, 20), { authorization: `Basic ${b64(`${service.id}:${service.secret}`)}` }, new URLSearchParams({ grant_type: 'client_credentials', resource: API }).toString());
    assert.equal(right.status, 200);
  });

  test('a body that arrives slowly, in chunks, is read, put back and read by the engine whole', async () => {
    const body = new URLSearchParams({ grant_type: 'authorization_code', code: 'not-a-code', redirect_uri: REDIRECT, code_verifier: 'v'.repeat(43), client_id: spa }).toString();
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${server.issuer}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'transfer-encoding': 'chunked', 'x-forwarded-for': '10.21.0.1' } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      void (async () => {
        req.write(body.slice(0, 20));
        await sleep(50);
        req.write(body.slice(20, 60));
        await sleep(50);
        req.end(body.slice(60));
      })();
    });
    // The engine found the client in the body and judged the code: the body reached it whole.
    assert.equal(answer.status, 400);
    assert.equal((JSON.parse(answer.body) as { error: string }).error, 'invalid_grant');
  });

  test('a client id and secret in the body are claimed and throttled, and the engine never warns of a parsed body', async () => {
    const attacker = '10.21.0.2';
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const response = await token(attacker, {}, new URLSearchParams({ grant_type: 'client_credentials', client_id: service.id, client_secret: `guess-${i}` }).toString());
      statuses.push(response.status);
      await response.body?.cancel();
    }
    assert.deepEqual(statuses.slice(0, 3), [401, 401, 401]);
    assert.equal(statuses.at(-1), 429);
    assert.deepEqual(warnings.filter((line) => /parsed request body/.test(line)), []);
  });
});
