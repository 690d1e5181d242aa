import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { defaultGrantTypes, defaultScopes, parseClientInput } from '../../src/clients/client-input.ts';
import { ValidationError } from '../../src/errors.ts';

/** Asserts that `raw` is refused with a ValidationError whose message matches `pattern`. */
function assertRefused(raw: unknown, pattern: RegExp): void {
  assert.throws(
    () => parseClientInput(raw),
    (error: unknown) => {
      assert.ok(error instanceof ValidationError, `expected ValidationError, got ${String(error)}`);
      assert.equal(error.status, 400);
      assert.match(error.message, pattern);
      return true;
    },
  );
}

const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code';
const web = { type: 'web', name: 'Web app', redirectUris: ['https://app.example.com/callback'] };

describe('defaults per client type', () => {
  test('a web client gets the code flow with refresh and the OIDC scopes', () => {
    const input = parseClientInput(web);
    assert.deepEqual(input.redirectUris, ['https://app.example.com/callback']);
    assert.deepEqual(input.postLogoutRedirectUris, []);
    assert.deepEqual(input.corsOrigins, []);
    assert.deepEqual(input.resources, []);
    assert.equal(input.firstParty, false);
    assert.equal(input.grantTypes, undefined);
    assert.equal(input.clientId, undefined);
    assert.deepEqual(defaultGrantTypes('web'), ['authorization_code', 'refresh_token']);
    assert.deepEqual(defaultScopes('web'), ['openid', 'email', 'profile', 'offline_access']);
  });

  test('spa and native clients default to the code flow with refresh and the OIDC scopes', () => {
    for (const type of ['spa', 'native'] as const) {
      assert.deepEqual(defaultGrantTypes(type), ['authorization_code', 'refresh_token']);
      assert.deepEqual(defaultScopes(type), ['openid', 'email', 'profile', 'offline_access']);
    }
  });

  test('a service client defaults to client_credentials only, with no OIDC scopes, and needs no redirect URI', () => {
    const input = parseClientInput({ type: 'service', name: 'Batch job' });
    assert.deepEqual(input.redirectUris, []);
    assert.deepEqual(defaultGrantTypes('service'), ['client_credentials']);
    assert.deepEqual(defaultScopes('service'), []);
  });

  test('a resource-server client defaults to no grants and no scopes', () => {
    parseClientInput({ type: 'resource-server', name: 'Orders API' });
    assert.deepEqual(defaultGrantTypes('resource-server'), []);
    assert.deepEqual(defaultScopes('resource-server'), []);
  });

  test('the name is trimmed', () => {
    assert.equal(parseClientInput({ ...web, name: '  Web app  ' }).name, 'Web app');
  });
});

describe('redirect URIs', () => {
  test('a web client needs at least one redirect URI', () => {
    assertRefused({ type: 'web', name: 'Web app' }, /^redirectUris: a web client needs at least one redirect URI$/);
  });

  test('spa and native clients need a redirect URI too', () => {
    assertRefused({ type: 'spa', name: 'SPA' }, /redirectUris: a spa client needs/);
    assertRefused({ type: 'native', name: 'App' }, /redirectUris: a native client needs/);
  });

  test('http is allowed only for localhost, 127.0.0.1 and [::1]', () => {
    for (const uri of ['http://localhost:8080/cb', 'http://127.0.0.1:8080/cb', 'http://[::1]:8080/cb']) {
      assert.deepEqual(parseClientInput({ ...web, redirectUris: [uri] }).redirectUris, [uri]);
    }
    assertRefused({ ...web, redirectUris: ['http://app.example.com/cb'] }, /^redirectUris\.0: http:\/\/app\.example\.com\/cb: http is allowed only for localhost/);
    assertRefused({ ...web, redirectUris: ['http://localhost.example.com/cb'] }, /redirectUris\.0: .*http is allowed only for localhost/);
  });

  test('the error names the index of the offending redirect URI', () => {
    assertRefused(
      { ...web, redirectUris: ['https://app.example.com/a', 'http://app.example.com/b'] },
      /^redirectUris\.1: /,
    );
  });

  test('a custom scheme is allowed for a native client', () => {
    const uri = 'com.example.app:/oauth/callback';
    assert.deepEqual(parseClientInput({ type: 'native', name: 'App', redirectUris: [uri] }).redirectUris, [uri]);
  });

  test('a custom scheme is refused for web and spa clients', () => {
    for (const type of ['web', 'spa']) {
      assertRefused({ type, name: 'x', redirectUris: ['com.example.app:/cb'] }, /redirectUris\.0: com\.example\.app:\/cb: custom schemes are for native clients only/);
    }
  });

  test('a redirect URI without its scheme says what is wrong and what to write, for every type', () => {
    for (const type of ['web', 'spa', 'native']) {
      assertRefused(
        { type, name: 'x', redirectUris: ['localhost:8080/callback'] },
        /^redirectUris\.0: localhost:8080\/callback is not a URL with http:\/\/ or https:\/\/; write http:\/\/localhost:8080\/callback$/,
      );
    }
    assertRefused({ ...web, redirectUris: ['app.example.com/cb'] }, /^redirectUris\.0: app\.example\.com\/cb is not a URL with http:\/\/ or https:\/\/; write https:\/\/app\.example\.com\/cb$/);
    assertRefused({ ...web, postLogoutRedirectUris: ['127.0.0.1:8080'] }, /^postLogoutRedirectUris\.0: .*; write http:\/\/127\.0\.0\.1:8080$/);
  });

  test('a redirect URI with a fragment is refused', () => {
    assertRefused({ ...web, redirectUris: ['https://app.example.com/cb#done'] }, /^redirectUris\.0: must not contain a fragment$/);
  });

  test('a redirect URI with an empty fragment ("#") is refused', () => {
    // RFC 6749 section 3.1.2: the redirection endpoint URI MUST NOT include a fragment
    // component; oidc-provider refuses any '#' in it, so the registry must too.
    assertRefused({ ...web, redirectUris: ['https://app.example.com/cb#'] }, /redirectUris\.0: /);
  });

  test('a relative or unparsable redirect URI is refused', () => {
    assertRefused({ ...web, redirectUris: ['/callback'] }, /^redirectUris\.0: must be an absolute URL/);
    assertRefused({ ...web, redirectUris: ['not a uri'] }, /^redirectUris\.0: must be an absolute URL/);
  });

  test('a native client cannot register a javascript:, data: or file: redirect URI', () => {
    // oidc-provider refuses these schemes for every client; accepting them here would
    // register a client the provider cannot load.
    for (const uri of ['javascript:alert(1)', 'data:text/html,hi', 'file:///etc/passwd']) {
      assertRefused({ type: 'native', name: 'App', redirectUris: [uri] }, /redirectUris\.0: /);
    }
  });

  test('an http post-logout redirect URI is refused with an error naming postLogoutRedirectUris', () => {
    assertRefused(
      { ...web, postLogoutRedirectUris: ['http://app.example.com/bye'] },
      /^postLogoutRedirectUris\.0: .*http is allowed only for localhost/,
    );
  });

  test('a post-logout redirect URI with a fragment is refused', () => {
    assertRefused({ ...web, postLogoutRedirectUris: ['https://app.example.com/bye#x'] }, /^postLogoutRedirectUris\.0: must not contain a fragment/);
  });

  test('a URI longer than 2000 characters is refused', () => {
    assertRefused({ ...web, redirectUris: [`https://app.example.com/${'a'.repeat(2000)}`] }, /^redirectUris\.0: must be at most 2000 characters/);
  });
});

describe('grant types', () => {
  test('a spa client cannot use client_credentials', () => {
    assertRefused(
      { type: 'spa', name: 'SPA', redirectUris: ['https://spa.example.com/cb'], grantTypes: ['authorization_code', 'client_credentials'] },
      /^grantTypes: a spa client is public and cannot use client_credentials$/,
    );
  });

  test('a native client cannot use client_credentials', () => {
    assertRefused(
      { type: 'native', name: 'App', redirectUris: ['com.example.app:/cb'], grantTypes: ['client_credentials'] },
      /grantTypes: a native client is public/,
    );
  });

  test('a service client has no browser flow', () => {
    assertRefused(
      { type: 'service', name: 'Job', redirectUris: ['https://job.example.com/cb'], grantTypes: ['authorization_code'] },
      /grantTypes: a service client has no browser flow/,
    );
  });

  test('a resource-server client has no grant but token exchange', () => {
    assertRefused({ type: 'resource-server', name: 'API', grantTypes: ['client_credentials'] }, /^grantTypes: a resource-server client introspects, and may exchange the tokens it receives \(urn:ietf:params:oauth:grant-type:token-exchange\); it has no other grant$/);
  });

  test('refresh_token without authorization_code is refused', () => {
    assertRefused({ type: 'service', name: 'Job', grantTypes: ['client_credentials', 'refresh_token'] }, /grantTypes: refresh_token needs authorization_code or urn:ietf:params:oauth:grant-type:device_code/);
  });

  test('a native client may register the device grant alone, with no redirect URI, and refresh with it', () => {
    const input = parseClientInput({ type: 'native', name: 'TV', grantTypes: [DEVICE, 'refresh_token'] });
    assert.deepEqual(input.grantTypes, [DEVICE, 'refresh_token']);
    assert.deepEqual(input.redirectUris, []);
  });

  test('a confidential web client may register the device grant', () => {
    assert.deepEqual(parseClientInput({ type: 'web', name: 'CLI', grantTypes: [DEVICE] }).grantTypes, [DEVICE]);
  });

  test('spa, service and resource-server clients cannot register the device grant', () => {
    assertRefused({ type: 'spa', name: 'SPA', grantTypes: [DEVICE] }, /device_code is for native and web clients, not a spa client/);
    assertRefused({ type: 'service', name: 'Job', grantTypes: [DEVICE] }, /device_code is for native and web clients, not a service client/);
    assertRefused({ type: 'resource-server', name: 'API', grantTypes: [DEVICE] }, /device_code is for native and web clients/);
  });

  test('no client gets the device grant without asking for it', () => {
    for (const type of ['web', 'spa', 'native', 'service', 'resource-server'] as const) assert.ok(!defaultGrantTypes(type).includes(DEVICE), type);
  });

  test('an unknown grant type is refused, naming its index', () => {
    assertRefused({ ...web, grantTypes: ['implicit'] }, /^grantTypes\.0: /);
  });

  test('a web client may add client_credentials to the code flow', () => {
    const input = parseClientInput({ ...web, grantTypes: ['authorization_code', 'client_credentials'] });
    assert.deepEqual(input.grantTypes, ['authorization_code', 'client_credentials']);
  });
});

describe('CORS origins', () => {
  test('a bare origin is accepted', () => {
    const origins = ['https://app.example.com', 'http://localhost:5173'];
    assert.deepEqual(parseClientInput({ ...web, corsOrigins: origins }).corsOrigins, origins);
  });

  test('an origin with a path, a trailing slash, a query or upper case is refused', () => {
    for (const value of ['https://app.example.com/', 'https://app.example.com/path', 'https://app.example.com?x=1', 'https://App.example.com', '*', 'null']) {
      assertRefused({ ...web, corsOrigins: [value] }, /^corsOrigins\.0: must be an origin like https:\/\/app\.example\.com/);
    }
  });
});

describe('strict shape', () => {
  test('an unknown property is refused and named', () => {
    assertRefused({ ...web, secret: 'x' }, /Unrecognized key.*"secret"/);
  });

  test('a missing or empty name is refused', () => {
    assertRefused({ type: 'web', redirectUris: web.redirectUris }, /^name: /);
    assertRefused({ ...web, name: '   ' }, /^name: must not be empty$/);
  });

  test('an unknown type is refused', () => {
    assertRefused({ ...web, type: 'daemon' }, /^type: /);
  });

  test('input that is not an object is refused', () => {
    assertRefused(null, /^input: /);
    assertRefused('web', /^input: /);
  });

  test('scopes with spaces or quotes are refused, naming the index', () => {
    assertRefused({ ...web, scopes: ['openid', 'read write'] }, /^scopes\.1: /);
    assertRefused({ ...web, scopes: ['"quoted"'] }, /^scopes\.0: /);
  });

  test('several problems are all reported in one error', () => {
    assertRefused({ ...web, name: '', corsOrigins: ['https://x.example.com/'] }, /name: .*; corsOrigins\.0: |corsOrigins\.0: .*; name: /);
  });
});

describe('clientId', () => {
  test('letters, digits and . _ ~ - of 3 to 100 characters are accepted', () => {
    for (const clientId of ['abc', 'my-app_1.0~x', 'A'.repeat(100)]) {
      assert.equal(parseClientInput({ ...web, clientId }).clientId, clientId);
    }
  });

  test('other characters and other lengths are refused', () => {
    for (const clientId of ['ab', '-leading-dash', 'A'.repeat(101), 'has space', 'slash/id', 'ünï', 'colon:id', '']) {
      assertRefused({ ...web, clientId }, /^clientId: must be 3-100 characters of letters, digits and \. _ ~ -, starting with a letter or digit$/);
    }
  });
});

describe('client authentication methods', () => {
  const service = { type: 'service', name: 'Batch' };
  /** A real P-256 public key, and its private part. */
  const publicJwk = {
    kty: 'EC',
    crv: 'P-256',
    x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
    y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
    kid: 'k1',
  };
  const privateJwk = { ...publicJwk, d: 'jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI' };

  test('a confidential client defaults to client_secret_basic, a public one to none', () => {
    assert.equal(parseClientInput(service).authMethod, undefined);
    assert.equal(parseClientInput({ ...service, authMethod: 'client_secret_post' }).authMethod, 'client_secret_post');
    assert.equal(parseClientInput({ type: 'spa', name: 'SPA', redirectUris: ['https://app.example.com/cb'], authMethod: 'none' }).authMethod, 'none');
  });

  test('a public client cannot have a secret method, a confidential one cannot have none', () => {
    assertRefused({ type: 'spa', name: 'SPA', redirectUris: ['https://app.example.com/cb'], authMethod: 'client_secret_post' }, /^authMethod: a spa client is public/);
    assertRefused({ ...service, authMethod: 'none' }, /^authMethod: a service client is confidential/);
    assertRefused({ ...service, authMethod: 'client_secret_jwt' }, /^authMethod: /);
  });

  test('private_key_jwt takes an inline public JWK Set or a jwks_uri, exactly one', () => {
    const inline = parseClientInput({ ...service, authMethod: 'private_key_jwt', jwks: { keys: [{ ...publicJwk, alg: 'ES256', use: 'sig', x5t: 'dropped' }] } });
    assert.deepEqual(inline.jwks, { keys: [{ ...publicJwk, alg: 'ES256', use: 'sig' }] }, 'only the members that matter are kept');
    assert.equal(parseClientInput({ ...service, authMethod: 'private_key_jwt', jwksUri: 'https://batch.example.com/jwks.json' }).jwksUri, 'https://batch.example.com/jwks.json');
    assertRefused({ ...service, authMethod: 'private_key_jwt' }, /^jwks: a private_key_jwt client needs its public keys/);
    assertRefused({ ...service, authMethod: 'private_key_jwt', jwks: { keys: [publicJwk] }, jwksUri: 'https://batch.example.com/jwks.json' }, /^jwksUri: give either jwks or jwksUri/);
    assertRefused({ ...service, jwks: { keys: [publicJwk] } }, /^jwks: only a private_key_jwt client has keys/);
    assertRefused({ ...service, authMethod: 'private_key_jwt', jwksUri: 'http://batch.example.com/jwks.json' }, /^jwksUri: must be https/);
    assertRefused({ ...service, authMethod: 'private_key_jwt', jwks: { keys: [] } }, /^jwks\.keys: must hold at least one public key/);
  });

  test('a private key is refused without its private part appearing in the message', () => {
    assert.throws(
      () => parseClientInput({ ...service, authMethod: 'private_key_jwt', jwks: { keys: [privateJwk] } }),
      (error: unknown) => {
        assert.ok(error instanceof ValidationError);
        assert.match(error.message, /^jwks\.keys\.0: is a private key \(it has "d"\)/);
        assert.ok(!error.message.includes(privateJwk.d));
        return true;
      },
    );
    for (const member of ['p', 'q', 'dp', 'dq', 'qi']) {
      assertRefused({ ...service, authMethod: 'private_key_jwt', jwks: { keys: [{ kty: 'RSA', n: 'AQAB', e: 'AQAB', [member]: 'AQAB' }] } }, /is a private key/);
    }
  });

  test('symmetric keys, other curves, weak RSA keys, bad material and wrong algorithms are refused', () => {
    const refusedKey = (key: Record<string, unknown>, pattern: RegExp) =>
      assertRefused({ ...service, authMethod: 'private_key_jwt', jwks: { keys: [key] } }, pattern);
    refusedKey({ kty: 'oct', k: 'c2VjcmV0' }, /is a symmetric key/);
    refusedKey({ ...publicJwk, crv: 'P-384' }, /curve P-256/);
    refusedKey({ kty: 'OKP', crv: 'X25519', x: publicJwk.x }, /must be Ed25519/);
    refusedKey({ kty: 'RSA', n: Buffer.alloc(128, 0xff).toString('base64url'), e: 'AQAB' }, /at least 2048 bits/);
    refusedKey({ ...publicJwk, x: 'AAAA' }, /is not a valid public key/);
    refusedKey({ ...publicJwk, alg: 'HS256' }, /alg HS256 is not accepted/);
    refusedKey({ ...publicJwk, use: 'enc' }, /use must be "sig"/);
    assertRefused({ ...service, authMethod: 'private_key_jwt', jwks: { keys: [publicJwk, publicJwk] } }, /two keys share a kid/);
  });
});

describe('requirements on authorization requests (PAR, JAR)', () => {
  const keyed = { ...web, authMethod: 'private_key_jwt', jwksUri: 'https://app.example.com/jwks.json' };

  test('both are off unless asked for', () => {
    const input = parseClientInput(web);
    assert.equal(input.requirePushedRequests, false);
    assert.equal(input.requireSignedRequests, false);
  });

  test('pushed requests may be required of any client with the code flow, public ones too', () => {
    assert.equal(parseClientInput({ ...web, requirePushedRequests: true }).requirePushedRequests, true);
    assert.equal(parseClientInput({ type: 'spa', name: 'SPA', redirectUris: ['https://spa.example.com/cb'], requirePushedRequests: true }).requirePushedRequests, true);
  });

  test('signed requests only of a client with keys: never one that holds a shared secret, nor a public one', () => {
    assert.equal(parseClientInput({ ...keyed, requireSignedRequests: true }).requireSignedRequests, true);
    assertRefused({ ...web, requireSignedRequests: true }, /^requireSignedRequests: .*only a private_key_jwt client/);
    assertRefused({ type: 'native', name: 'App', redirectUris: ['com.example.app:/cb'], requireSignedRequests: true }, /^requireSignedRequests: .*private_key_jwt/);
  });

  test('a client without the code flow sends no authorization requests to require anything of', () => {
    const service = { type: 'service', name: 'Batch' };
    assertRefused({ ...service, requirePushedRequests: true }, /^requirePushedRequests: only a client with the authorization_code grant/);
    assertRefused({ ...service, authMethod: 'private_key_jwt', jwksUri: 'https://batch.example.com/jwks.json', requireSignedRequests: true }, /^requireSignedRequests: only a client with the authorization_code grant/);
  });

  test('only booleans', () => {
    assertRefused({ ...web, requirePushedRequests: 'yes' }, /^requirePushedRequests: /);
  });
});

describe('token exchange (RFC 8693)', () => {
  const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
  const ORDERS = 'https://orders.example.com';

  test('a resource-server, service or web client may exchange for the resource servers it names; the act claim is the default', () => {
    for (const raw of [
      { type: 'resource-server', name: 'Gateway', resources: ['https://gateway.example.com'], grantTypes: [EXCHANGE] },
      { type: 'service', name: 'Batch', grantTypes: ['client_credentials', EXCHANGE] },
      { ...web, grantTypes: ['authorization_code', EXCHANGE] },
    ]) {
      const input = parseClientInput({ ...raw, exchangeAudiences: [ORDERS] });
      assert.deepEqual(input.exchangeAudiences, [ORDERS]);
      assert.equal(input.exchangeAct, true);
    }
    assert.equal(parseClientInput({ type: 'service', name: 'Batch', grantTypes: [EXCHANGE], exchangeAudiences: [ORDERS], exchangeAct: false }).exchangeAct, false);
  });

  test('refused: a public client, the grant without audiences, audiences without the grant, another grant for a resource server', () => {
    assertRefused({ type: 'spa', name: 'SPA', redirectUris: ['https://spa.example.com/cb'], grantTypes: ['authorization_code', EXCHANGE], exchangeAudiences: [ORDERS] }, /grantTypes: a spa client is public and cannot exchange tokens/);
    assertRefused({ type: 'native', name: 'App', redirectUris: ['com.example.app:/cb'], grantTypes: [EXCHANGE], exchangeAudiences: [ORDERS] }, /grantTypes: a native client is public and cannot exchange tokens/);
    assertRefused({ type: 'service', name: 'Batch', grantTypes: [EXCHANGE] }, /exchangeAudiences: .*needs the resource servers/);
    assertRefused({ type: 'service', name: 'Batch', exchangeAudiences: [ORDERS] }, /exchangeAudiences: only a client with the .*token-exchange grant/);
    assertRefused({ type: 'resource-server', name: 'API', grantTypes: ['client_credentials', EXCHANGE], exchangeAudiences: [ORDERS] }, /grantTypes: a resource-server client introspects/);
    assertRefused({ type: 'service', name: 'Batch', grantTypes: [EXCHANGE], exchangeAudiences: ['orders.example.com/x\u0000'] }, /exchangeAudiences/);
  });
});
