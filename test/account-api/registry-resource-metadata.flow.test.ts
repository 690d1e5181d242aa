import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import * as oauth from 'oauth4webapi';

import { DPOP_SIGNING_ALGS } from '../../src/account-api/verify-dpop-proof.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// Protected-resource metadata (RFC 9728) beyond the account API: the admin API, whose 401s
// point to it, and the registry's other resource servers whose identifiers are under the
// issuer (an API behind the issuer's host), each where section 3.1 puts it, found and
// checked by oauth4webapi as an MCP client finds it.

const insecure = { [oauth.allowInsecureRequests]: true };

let server: TestServer;
let orders: string;

before(async () => {
  server = await startTestServer({ ADMIN_API: 'true', LOG_LEVEL: 'warn' });
  orders = `${server.issuer}/orders`;
  await server.services.resources.create({ indicator: orders, name: 'Orders', scopes: [{ name: 'orders:read' }, { name: 'orders:write' }] });
  await server.services.resources.create({ indicator: 'https://api.elsewhere.example/orders', name: 'Elsewhere', scopes: [{ name: 'read' }] });
});

after(async () => {
  await server?.close();
});

/** What oauth4webapi makes of the metadata of `resource`, fetched where section 3.1 puts it. */
async function discover(resource: string): Promise<oauth.ResourceServer> {
  const response = await oauth.resourceDiscoveryRequest(new URL(resource), insecure);
  assert.equal(response.status, 200, `${resource}: ${response.status}`);
  return oauth.processResourceDiscoveryResponse(new URL(resource), response);
}

describe('the admin API’s metadata', () => {
  test('is where its 401 points, and says how Portcullis takes its tokens', async () => {
    const refused = await fetch(`${server.issuer}/admin/api/v1/clients`);
    await refused.body?.cancel();
    assert.equal(refused.status, 401);
    const pointer = /resource_metadata="([^"]+)"/.exec(refused.headers.get('www-authenticate') ?? '')?.[1];
    assert.equal(pointer, `${server.issuer}/.well-known/oauth-protected-resource/admin`);
    const document = await fetch(pointer);
    assert.equal(document.status, 200, 'the 401 points to a document that exists');
    assert.equal(document.headers.get('cache-control'), 'public, max-age=300');

    const metadata = await discover(`${server.issuer}/admin`);
    assert.deepEqual(metadata, {
      resource: `${server.issuer}/admin`,
      resource_name: (await server.services.resources.get(`${server.issuer}/admin`)).name,
      authorization_servers: [server.issuer],
      scopes_supported: ['admin:read', 'admin:write'],
      bearer_methods_supported: ['header'],
      dpop_signing_alg_values_supported: DPOP_SIGNING_ALGS,
    });
  });
});

describe('a resource server of the registry under the issuer', () => {
  test('is described from the registry, without claims about how it takes tokens', async () => {
    const metadata = await discover(orders);
    assert.deepEqual(metadata, { resource: orders, resource_name: 'Orders', authorization_servers: [server.issuer], scopes_supported: ['orders:read', 'orders:write'] });
  });

  test('an operator’s change is in the next document; a deleted one is not found', async () => {
    await server.services.resources.update(orders, { scopes: [{ name: 'orders:read' }] });
    assert.deepEqual((await discover(orders)).scopes_supported, ['orders:read']);
    await server.services.resources.delete(orders);
    const gone = await fetch(`${server.issuer}/.well-known/oauth-protected-resource/orders`);
    assert.equal(gone.status, 404);
    await gone.body?.cancel();
  });

  test('nothing is said of a resource elsewhere, or of paths that name none', async () => {
    for (const path of ['/orders?x=1', '/api?resource=1', '?x=1', '/elsewhere', '/api.elsewhere.example/orders', '/unknown', '//api.elsewhere.example/orders', '/orders%2F..%2Fapi']) {
      const response = await fetch(`${server.issuer}/.well-known/oauth-protected-resource${path}`);
      const body = await response.text();
      assert.notEqual(response.status, 200, `${path}: ${body}`);
      assert.ok(response.status < 500, path);
      assert.doesNotMatch(body, /"resource"|Elsewhere/, path);
    }
  });
});
