import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import type { KoaContextWithOIDC } from 'oidc-provider';

import type { AccountRecord } from '../../src/accounts/index.ts';
import { MFA_REQUIRED_REASON, PORTCULLIS_ACR_MFA, PORTCULLIS_ACR_PWD, secondFactorPolicy } from '../../src/oidc/second-factor-policy.ts';

// The engine's login prompt, with our check: what it decides for a sign-in, whatever the pages
// did before it. Required by the deployment or the client, only a login that gave a second
// factor passes (fail closed); asked for by the request alone, the login passes and its acr
// tells the client. A role that requires one (admin here) counts as the person holds it now.

const PWD = PORTCULLIS_ACR_PWD;

/** The check's decision for account a1, holding `roles` now, where admin requires a second factor. */
async function decide(mode: 'optional' | 'required', oidc: Record<string, unknown>, roles: string[] = []): Promise<boolean> {
  const accounts = { find: (_ctx: unknown, id: string) => Promise.resolve(id === 'a1' ? ({ id, roles } as unknown as AccountRecord) : undefined) };
  const check = secondFactorPolicy({ mode, roles: ['admin'] }, accounts)
    .get('login')!
    .checks.get(MFA_REQUIRED_REASON);
  assert.ok(check, 'the check is registered on the login prompt');
  return Boolean(await check.check({ oidc: { session: { accountId: 'a1' }, params: {}, ...oidc } } as unknown as KoaContextWithOIDC));
}

const requiring = { portcullis_require_mfa: true };

describe('the login result of this interaction', () => {
  test('with only a password, is sent back where the deployment or the client requires a second factor', async () => {
    assert.equal(await decide('required', { result: { login: { accountId: 'a1', acr: PWD } } }), true);
    assert.equal(await decide('optional', { client: requiring, result: { login: { accountId: 'a1', acr: PWD } } }), true);
    assert.equal(await decide('optional', { client: requiring, result: { login: { accountId: 'a1' } } }), true, 'no acr at all is no second factor');
  });

  test('with a second factor, passes everywhere', async () => {
    assert.equal(await decide('required', { client: requiring, result: { login: { accountId: 'a1', acr: PORTCULLIS_ACR_MFA } } }), false);
  });

  test('with only a password, passes where only the request asked (acr_values are voluntary)', async () => {
    assert.equal(await decide('optional', { params: { acr_values: PORTCULLIS_ACR_MFA }, result: { login: { accountId: 'a1', acr: PWD } } }), false);
  });
});

describe('a session without this interaction’s login', () => {
  test('signed in with the password only: asked again where anything requires or asks for more', async () => {
    const session = { accountId: 'a1', acr: PWD };
    assert.equal(await decide('required', { session }), true);
    assert.equal(await decide('optional', { session, client: requiring }), true);
    assert.equal(await decide('optional', { session, params: { acr_values: PORTCULLIS_ACR_MFA } }), true);
    assert.equal(await decide('optional', { session }), false);
  });

  test('a role that requires a second factor, held now, asks again over a password-only session', async () => {
    const session = { accountId: 'a1', acr: PWD };
    assert.equal(await decide('optional', { session }, ['admin']), true, 'given the admin role after signing in');
    assert.equal(await decide('optional', { session }, ['staff']), false, 'another role requires nothing');
    assert.equal(await decide('optional', { session: { accountId: 'a1', acr: PORTCULLIS_ACR_MFA } }, ['admin']), false);
    assert.equal(await decide('optional', { session: { accountId: 'gone', acr: PWD } }, ['admin']), false, 'no account, no role (the engine ends such sessions)');
  });

  test('a login of this interaction with only a password does not pass for a holder of such a role', async () => {
    assert.equal(await decide('optional', { result: { login: { accountId: 'a1', acr: PWD } } }, ['admin']), true);
    assert.equal(await decide('optional', { result: { login: { accountId: 'a1', acr: PORTCULLIS_ACR_MFA } } }, ['admin']), false);
  });

  test('signed in with a second factor: never asked again', async () => {
    assert.equal(await decide('required', { session: { accountId: 'a1', acr: PORTCULLIS_ACR_MFA }, client: requiring }), false);
  });
});
