import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import type { KoaContextWithOIDC } from 'oidc-provider';

import { MFA_REQUIRED_REASON, PORTCULLIS_ACR_MFA, PORTCULLIS_ACR_PWD, secondFactorPolicy } from '../../src/oidc/second-factor-policy.ts';

// The engine's login prompt, with our check: what it decides for a sign-in, whatever the pages
// did before it. Required by the deployment or the client, only a login that gave a second
// factor passes (fail closed); asked for by the request alone, the login passes and its acr
// tells the client.

const PWD = PORTCULLIS_ACR_PWD;

function decide(mode: 'optional' | 'required', oidc: Record<string, unknown>): boolean {
  const check = secondFactorPolicy(mode)
    .get('login')!
    .checks.get(MFA_REQUIRED_REASON);
  assert.ok(check, 'the check is registered on the login prompt');
  return check.check({ oidc: { session: { accountId: 'a1' }, params: {}, ...oidc } } as unknown as KoaContextWithOIDC) as boolean;
}

const requiring = { portcullis_require_mfa: true };

describe('the login result of this interaction', () => {
  test('with only a password, is sent back where the deployment or the client requires a second factor', () => {
    assert.equal(decide('required', { result: { login: { accountId: 'a1', acr: PWD } } }), true);
    assert.equal(decide('optional', { client: requiring, result: { login: { accountId: 'a1', acr: PWD } } }), true);
    assert.equal(decide('optional', { client: requiring, result: { login: { accountId: 'a1' } } }), true, 'no acr at all is no second factor');
  });

  test('with a second factor, passes everywhere', () => {
    assert.equal(decide('required', { client: requiring, result: { login: { accountId: 'a1', acr: PORTCULLIS_ACR_MFA } } }), false);
  });

  test('with only a password, passes where only the request asked (acr_values are voluntary)', () => {
    assert.equal(decide('optional', { params: { acr_values: PORTCULLIS_ACR_MFA }, result: { login: { accountId: 'a1', acr: PWD } } }), false);
  });
});

describe('a session without this interaction’s login', () => {
  test('signed in with the password only: asked again where anything requires or asks for more', () => {
    const session = { accountId: 'a1', acr: PWD };
    assert.equal(decide('required', { session }), true);
    assert.equal(decide('optional', { session, client: requiring }), true);
    assert.equal(decide('optional', { session, params: { acr_values: PORTCULLIS_ACR_MFA } }), true);
    assert.equal(decide('optional', { session }), false);
  });

  test('signed in with a second factor: never asked again', () => {
    assert.equal(decide('required', { session: { accountId: 'a1', acr: PORTCULLIS_ACR_MFA }, client: requiring }), false);
  });
});
