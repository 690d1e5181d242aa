import assert from 'node:assert/strict';
import { test } from 'node:test';

import { amrFor, createSecondFactorPages } from '../../src/interactions/second-factor.ts';
import { mfaRequest } from '../../src/oidc/second-factor-policy.ts';

// What an ID token may claim of a sign-in (amr), and how a request asks for MFA: pure rules
// of interactions/second-factor.ts and oidc/second-factor-policy.ts.

const MFA = 'urn:portcullis:acr:mfa';
const PWD = 'urn:portcullis:acr:pwd';

test('amr names only the methods performed: a recovery code is no otp, and pwd only when a password was checked', () => {
  assert.deepEqual(amrFor('otp', true), ['pwd', 'otp', 'mfa']);
  assert.deepEqual(amrFor('enrolment', true), ['pwd', 'otp', 'mfa']);
  assert.deepEqual(amrFor('recovery', true), ['pwd', 'mfa']);
  assert.deepEqual(amrFor('otp', false), ['otp', 'mfa']);
  assert.deepEqual(amrFor('recovery', false), ['mfa']);
});

test('a request asks for MFA voluntarily by acr_values or a plain acr claim, essentially only by an essential acr claim naming mfa alone', () => {
  assert.equal(mfaRequest({}), 'none');
  assert.equal(mfaRequest({ acr_values: `${PWD} ${MFA}` }), 'voluntary');
  assert.equal(mfaRequest({ acr_values: PWD }), 'none');
  assert.equal(mfaRequest({ claims: JSON.stringify({ id_token: { acr: { value: MFA } } }) }), 'voluntary');
  assert.equal(mfaRequest({ claims: JSON.stringify({ id_token: { acr: { essential: true, value: MFA } } }) }), 'essential');
  assert.equal(mfaRequest({ claims: JSON.stringify({ id_token: { acr: { essential: true, values: [MFA] } } }) }), 'essential');
  assert.equal(mfaRequest({ claims: { id_token: { acr: { essential: true, value: MFA } } } }), 'essential', 'parsed claims too');
  assert.equal(mfaRequest({ claims: JSON.stringify({ id_token: { acr: { essential: true, values: [PWD, MFA] } } }) }), 'none', 'pwd meets it');
  assert.equal(mfaRequest({ claims: JSON.stringify({ userinfo: { acr: { essential: true, value: MFA } } }) }), 'none', 'only the ID token carries acr');
  for (const claims of ['{', 'null', '[]', '{"id_token":null}', '{"id_token":{"acr":"x"}}', 42]) assert.equal(mfaRequest({ claims }), 'none', String(claims));
});

test('after the password, a person without an authenticator: an essential acr claim ends in unmet_authentication_requirements (audited), a voluntary one in the password alone, never an enrolment', async () => {
  const finished: unknown[] = [];
  const events: string[] = [];
  const pages = createSecondFactorPages({
    accounts: {} as never,
    secondFactors: { state: () => Promise.resolve('none') } as never,
    render: () => '',
    interactions: {
      load: () => Promise.reject(new Error('not used')),
      client: () => Promise.resolve(undefined),
      finish: (_ctx, result) => {
        finished.push(result);
        return Promise.resolve();
      },
    },
    throttle: {} as never,
    audit: { record: (event) => void events.push(event.type) },
    requirement: { mode: 'optional', roles: [] },
    mailReachesPeople: true,
  });
  const ctx = { ip: '127.0.0.1', get: () => '', state: {}, cookies: { set: () => undefined } } as never;
  const account = { id: 'a1', email: 'ada@example.com', roles: [] } as never;
  const details = (params: Record<string, unknown>) => ({ uid: 'u1', params: { client_id: 'app', ...params }, prompt: { name: 'login', reasons: [] } }) as never;

  assert.equal(await pages.afterPassword(ctx, details({ claims: JSON.stringify({ id_token: { acr: { essential: true, value: MFA } } }) }), account), true);
  assert.deepEqual(finished, [{ error: 'unmet_authentication_requirements', error_description: 'a second factor is required and the account has none' }]);
  assert.deepEqual(events, ['mfa.unmet']);
  assert.equal(await pages.afterPassword(ctx, details({ acr_values: MFA }), account), false, 'the caller finishes with the password');
  assert.equal(await pages.afterPassword(ctx, details({ claims: JSON.stringify({ id_token: { acr: { value: MFA } } }) }), account), false);
  assert.equal(finished.length, 1);
});
