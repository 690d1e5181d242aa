import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { loadConfig } from '../../src/config/index.ts';
import { checkRegistrationPolicy, type RegisteredShape } from '../../src/oidc/registration-policy.ts';
import { configRefusal, PRODUCTION_ENV } from '../helpers/config-refusal.ts';

// CLIENT_REGISTRATION and its policy are parsed once at start; a bad value, or open
// registration in production without an explicit policy, stops the start naming the variable.

describe('CLIENT_REGISTRATION settings', () => {
  test('off by default, with the strict default policy', () => {
    const { clientRegistration } = loadConfig({});
    assert.equal(clientRegistration.mode, 'off');
    assert.deepEqual(clientRegistration.policy, {
      grantTypes: ['authorization_code', 'refresh_token'],
      redirectSchemes: ['https'],
      redirectHosts: ['*'],
      scopes: ['openid', 'profile', 'email', 'offline_access'],
      resources: [],
      authMethods: ['client_secret_basic', 'client_secret_post', 'none'],
    });
    assert.equal(loadConfig({}).rateLimits.tiers.registration?.max, 20);
  });

  test('each setting is parsed as a list, and a bad value stops the start naming the variable', () => {
    const config = loadConfig({ CLIENT_REGISTRATION: 'open', CLIENT_REGISTRATION_GRANT_TYPES: 'authorization_code, client_credentials', CLIENT_REGISTRATION_REDIRECT_HOSTS: 'app.example.com,*.example.org', CLIENT_REGISTRATION_RESOURCES: 'https://api.example.com' });
    assert.deepEqual(config.clientRegistration.policy.grantTypes, ['authorization_code', 'client_credentials']);
    assert.deepEqual(config.clientRegistration.policy.redirectHosts, ['app.example.com', '*.example.org']);
    assert.deepEqual(config.clientRegistration.policy.resources, ['https://api.example.com']);
    // `none` empties the other lists; of auth methods it is the public clients' method.
    assert.deepEqual(loadConfig({ CLIENT_REGISTRATION_AUTH_METHODS: 'none' }).clientRegistration.policy.authMethods, ['none']);
    assert.deepEqual(loadConfig({ CLIENT_REGISTRATION_AUTH_METHODS: 'none,client_secret_basic' }).clientRegistration.policy.authMethods, ['none', 'client_secret_basic']);
    assert.deepEqual(loadConfig({ CLIENT_REGISTRATION_RESOURCES: 'none' }).clientRegistration.policy.resources, []);
    for (const [name, value] of [
      ['CLIENT_REGISTRATION', 'yes'],
      ['CLIENT_REGISTRATION_GRANT_TYPES', 'authorization_code,,refresh_token'],
      ['CLIENT_REGISTRATION_GRANT_TYPES', 'implicit'],
      ['CLIENT_REGISTRATION_REDIRECT_SCHEMES', 'https://'],
      ['CLIENT_REGISTRATION_REDIRECT_HOSTS', 'https://app.example.com'],
      ['CLIENT_REGISTRATION_REDIRECT_HOSTS', 'app.*.example.com'],
      ['CLIENT_REGISTRATION_SCOPES', 'openid email'],
      ['CLIENT_REGISTRATION_RESOURCES', 'api.example.com'],
      ['CLIENT_REGISTRATION_AUTH_METHODS', 'private_key_jwt'],
      ['RATE_LIMIT_REGISTRATION', 'lots'],
    ] as const) {
      assert.match(configRefusal({ [name]: value }), new RegExp(`  ${name}(\\.\\d+)?: `), `${name}=${value}`);
    }
  });

  test('open registration in production needs CLIENT_REGISTRATION_REDIRECT_HOSTS; initial-access-token does not', () => {
    assert.match(configRefusal({ ...PRODUCTION_ENV, CLIENT_REGISTRATION: 'open' }), /CLIENT_REGISTRATION: open needs an explicit policy in production/);
    assert.equal(loadConfig({ ...PRODUCTION_ENV, CLIENT_REGISTRATION: 'open', CLIENT_REGISTRATION_REDIRECT_HOSTS: 'app.example.com' }).clientRegistration.mode, 'open');
    assert.equal(loadConfig({ ...PRODUCTION_ENV, CLIENT_REGISTRATION: 'initial-access-token' }).clientRegistration.mode, 'initial-access-token');
  });
});

describe('the registration policy', () => {
  const policy = loadConfig({ CLIENT_REGISTRATION_REDIRECT_HOSTS: 'app.example.com,*.example.org', CLIENT_REGISTRATION_REDIRECT_SCHEMES: 'https,com.example.app' }).clientRegistration.policy;
  const shape = (redirectUris: string[], displayUris: Record<string, string> = {}): RegisteredShape => ({
    grantTypes: ['authorization_code'],
    authMethod: 'client_secret_basic',
    redirectUris,
    postLogoutRedirectUris: [],
    scopes: ['openid'],
    resources: [],
    displayUris,
  });

  test('hosts match exactly or as subdomains of a wildcard, never by suffix alone; loopback always, over http too', () => {
    for (const uri of ['https://app.example.com/cb', 'https://a.example.org/cb', 'https://a.b.example.org/cb', 'http://localhost:8080/cb', 'http://127.0.0.1/cb', 'http://[::1]:9/cb', 'com.example.app:/cb']) {
      assert.equal(checkRegistrationPolicy(shape([uri]), policy), undefined, uri);
    }
    for (const uri of ['https://example.org/cb', 'https://evilexample.org/cb', 'https://app.example.com.evil.net/cb', 'https://APP.example.net/cb', 'http://app.example.com/cb', 'http://10.0.0.1/cb', 'com.evil.app:/cb', 'ftp://app.example.com/cb']) {
      assert.match(checkRegistrationPolicy(shape([uri]), policy) ?? '', /^redirect_uris: /, uri);
    }
  });

  test('the pages a registered client shows people (logo, about, policy, terms) are on the allowed hosts too', () => {
    assert.equal(checkRegistrationPolicy(shape(['https://app.example.com/cb'], { logo_uri: 'https://app.example.com/logo.png', tos_uri: 'https://a.example.org/tos' }), policy), undefined);
    assert.match(checkRegistrationPolicy(shape(['https://app.example.com/cb'], { logo_uri: 'https://tracker.evil.example/pixel.png' }), policy) ?? '', /^logo_uri: /);
    assert.match(checkRegistrationPolicy(shape(['https://app.example.com/cb'], { policy_uri: 'https://evil.example/privacy' }), policy) ?? '', /^policy_uri: /);
  });
});
