import assert from 'node:assert/strict';
import { test } from 'node:test';

import { checkAgainstRegistry } from '../../src/clients/index.ts';

const registry = new Map([['https://orders.example.com', ['orders:read', 'orders:write']]]);
const scopesOf = (indicator: string) => registry.get(indicator);

test('OIDC scopes and the scopes of registered resources pass', () => {
  assert.deepEqual(checkAgainstRegistry({ resources: ['https://orders.example.com'], scopes: ['openid', 'offline_access', 'orders:read'] }, scopesOf), []);
  assert.deepEqual(checkAgainstRegistry({ resources: [], scopes: ['openid', 'email', 'profile'] }, scopesOf), []);
});

test('every unregistered resource is named with its position, then the scopes nothing offers', () => {
  assert.deepEqual(
    checkAgainstRegistry({ resources: ['https://orders.example.com', 'https://nope.example.com'], scopes: ['openid', 'admin', 'orders:write', 'nope:read'] }, scopesOf),
    [
      { list: 'resources', index: 1, message: 'https://nope.example.com is not a registered resource server' },
      { list: 'scopes', message: "admin, nope:read not offered by openid or the client's resources" },
    ],
  );
});

test('a resource scope needs its resource among the client’s resources', () => {
  assert.deepEqual(checkAgainstRegistry({ resources: [], scopes: ['orders:read'] }, scopesOf), [
    { list: 'scopes', message: "orders:read not offered by openid or the client's resources" },
  ]);
});
