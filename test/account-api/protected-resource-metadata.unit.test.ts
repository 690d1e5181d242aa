import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { buildProtectedResourceMetadata, indicatorsAt, protectedResourceMetadataUrl } from '../../src/account-api/protected-resource-metadata.ts';
import { DPOP_SIGNING_ALGS } from '../../src/account-api/verify-dpop-proof.ts';

// Where RFC 9728 section 3.1 puts a resource's metadata, and what the document says, from
// the registry's record alone (src/account-api/protected-resource-metadata.ts).

describe('protected-resource metadata (unit)', () => {
  test('the well-known suffix goes between the host and the resource’s path', () => {
    assert.equal(protectedResourceMetadataUrl('https://id.example.com/api'), 'https://id.example.com/.well-known/oauth-protected-resource/api');
    // An issuer with a path: the suffix still goes right after the host (as RFC 8414's does).
    assert.equal(protectedResourceMetadataUrl('https://example.com/auth/api'), 'https://example.com/.well-known/oauth-protected-resource/auth/api');
    // A resource without a path: the terminating slash is dropped.
    assert.equal(protectedResourceMetadataUrl('https://api.example.com/'), 'https://api.example.com/.well-known/oauth-protected-resource');
    assert.equal(protectedResourceMetadataUrl('http://127.0.0.1:3000/api'), 'http://127.0.0.1:3000/.well-known/oauth-protected-resource/api');
  });

  test('the document names the record’s identifier, name and scopes, the issuer, and how tokens are presented', () => {
    const metadata = buildProtectedResourceMetadata({
      issuer: 'https://id.example.com',
      servedHere: true,
      resource: {
        indicator: 'https://id.example.com/api',
        name: 'Account API',
        accessTokenFormat: 'jwt',
        accessTokenTtl: 600,
        signingAlg: 'ES256',
        updatedAt: new Date(0),
        scopes: [
          { name: 'account:read', description: 'Read', roles: [] },
          { name: 'account:admin', description: 'Admin', roles: ['admin'] },
        ],
      },
    });
    assert.deepEqual(metadata, {
      resource: 'https://id.example.com/api',
      resource_name: 'Account API',
      authorization_servers: ['https://id.example.com'],
      scopes_supported: ['account:read', 'account:admin'],
      bearer_methods_supported: ['header'],
      dpop_signing_alg_values_supported: DPOP_SIGNING_ALGS,
    });
  });

  test('of a resource Portcullis does not serve itself, only the registry’s facts: not how it takes tokens', () => {
    const metadata = buildProtectedResourceMetadata({
      issuer: 'https://id.example.com',
      servedHere: false,
      resource: { indicator: 'https://id.example.com/orders', name: 'Orders', accessTokenFormat: 'jwt', accessTokenTtl: 600, signingAlg: 'ES256', updatedAt: new Date(0), scopes: [{ name: 'orders:read', description: '', roles: [] }] },
    });
    assert.deepEqual(metadata, { resource: 'https://id.example.com/orders', resource_name: 'Orders', authorization_servers: ['https://id.example.com'], scopes_supported: ['orders:read'] });
  });

  test('a metadata path names the identifiers under the issuer that section 3.1 maps to it, and nothing else', () => {
    assert.deepEqual(indicatorsAt('https://id.example.com', '/.well-known/oauth-protected-resource/orders'), ['https://id.example.com/orders', 'https://id.example.com/orders/']);
    assert.deepEqual(indicatorsAt('https://example.com/auth', '/.well-known/oauth-protected-resource/api/v2'), ['https://example.com/auth/api/v2', 'https://example.com/auth/api/v2/']);
    for (const path of ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/', '/.well-known/oauth-protected-resourcex/api', '/api', '/.well-known/oauth-protected-resource//evil.example/x']) {
      assert.equal(indicatorsAt('https://id.example.com', path), undefined, path);
    }
  });
});
