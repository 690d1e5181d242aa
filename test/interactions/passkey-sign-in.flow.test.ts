import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { captureAudit } from '../helpers/capture-audit.ts';
import { csrfToken, submitForm } from '../helpers/browserless-login.ts';
import { requestOptions } from '../helpers/passkey-pages.ts';
import { ACR_MFA, APP, declaration, discover, formAction, idTokenClaims, PASSWORD, post, start, STRICT_APP, type Flow } from '../helpers/second-factor-pages.ts';
import { SoftAuthenticator } from '../helpers/soft-authenticator.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// Passkeys at sign-in, over real HTTP with a software authenticator (the one edge
// simulated): as the second factor after a password, and with PASSKEY_SIGN_IN alone; tried
// as an attacker would (another person's passkey, a replayed answer, a burst of one answer,
// a cloned key's counter, another sign-in's challenge, no user verification, a disabled
// owner, another person's user handle, garbage).

const audit = captureAudit();
let server: TestServer;
let people = 0;

before(async () => {
  server = await startTestServer({ PASSKEY_SIGN_IN: 'true', RATE_LIMIT_LOGIN: '600/1m' }, { declare: declaration, issuerHost: 'localhost', audit });
});

after(async () => {
  await server?.close();
});

const origin = () => new URL(server.issuer).origin;

/** A person with one passkey on `device` (registered through the service, as the account page does). */
async function personWithPasskey(device = new SoftAuthenticator({ origin: origin() })) {
  const email = `passkey-signin${++people}@example.com`;
  const account = await server.services.accounts.create({ email, name: `Person ${people}`, password: PASSWORD });
  const options = await server.services.passkeys.registrationOptions(account, 'test-binding');
  const outcome = await server.services.passkeys.register(account.id, 'test-binding', options.challenge, device.register(options), 'Test key');
  assert.ok(outcome.ok, 'registered');
  return { id: account.id, email, device, passkeyId: outcome.passkey.id };
}

/** A sign-in past its password: at the page asking for the second factor. */
async function atSecondFactor(email: string, clientId = APP): Promise<Flow> {
  const flow = await start(server, { client_id: clientId });
  await post(flow, 'login', { email, password: PASSWORD });
  assert.ok(formAction(flow.page.html, 'passkey'), `the page offers a passkey: ${flow.page.html.slice(0, 400)}`);
  return flow;
}

/** Posts a passkey answer to the page's passkey form; the response, unfollowed. */
function answer(flow: Flow, name: 'passkey' | 'passkey-sign-in', response: string): Promise<Response> {
  const action = formAction(flow.page.html, name);
  assert.ok(action, `the page has a ${name} form`);
  return submitForm(flow.jar, new URL(action, flow.page.url), { csrf: csrfToken(flow.page.html), response });
}

describe('a passkey as the second factor', () => {
  test('after the password, one of the account’s passkeys signs in: amr pwd, hwk, mfa and the MFA acr', async () => {
    const person = await personWithPasskey();
    const flow = await atSecondFactor(person.email, STRICT_APP);
    const options = requestOptions(flow.page.html);
    assert.deepEqual(options.allowCredentials?.map((one) => one.id), [person.passkeyId], 'only the account’s own passkeys are offered');
    assert.ok(formAction(flow.page.html, 'code'), 'and the code form, for the recovery codes its first passkey came with');
    assert.match(flow.page.html, /<script src="\/assets\/webauthn.js" nonce=/);
    await post(flow, 'passkey', { response: person.device.authenticate(options) });
    const claims = await idTokenClaims(await discover(server, STRICT_APP), flow);
    assert.deepEqual(claims.amr, ['pwd', 'hwk', 'mfa']);
    assert.equal(claims.acr, ACR_MFA);
    assert.ok(audit.events.some((event) => event.type === 'mfa.success' && event.accountId === person.id && (event.data as { method?: string }).method === 'hwk'));
  });

  test('a synced passkey is named swk', async () => {
    const person = await personWithPasskey(new SoftAuthenticator({ origin: new URL(server.issuer).origin, backedUp: true, counterStep: 0 }));
    const flow = await atSecondFactor(person.email);
    await post(flow, 'passkey', { response: person.device.authenticate(requestOptions(flow.page.html)) });
    const claims = await idTokenClaims(await discover(server, APP), flow);
    assert.deepEqual(claims.amr, ['pwd', 'swk', 'mfa']);
  });

  test('another person’s passkey, a wrong origin or RP ID, garbage: refused with one message and audited; the right one still works', async () => {
    const attacker = await personWithPasskey();
    // Two refusals per sign-in: within the login throttle's free failures (each is counted, as below).
    const cases: ((options: ReturnType<typeof requestOptions>, victim: Awaited<ReturnType<typeof personWithPasskey>>) => string)[][] = [
      [(options) => attacker.device.authenticate(options, { credentialId: attacker.passkeyId }), (options, victim) => victim.device.authenticate(options, { origin: 'https://evil.example' })],
      [(options, victim) => victim.device.authenticate(options, { rpId: 'evil.example' }), () => ''],
      [() => '{"id":"x"}', () => 'not json'],
    ];
    for (const refusals of cases) {
      const victim = await personWithPasskey();
      const flow = await atSecondFactor(victim.email);
      const options = requestOptions(flow.page.html);
      for (const refusal of refusals) {
        const refused = await answer(flow, 'passkey', refusal(options, victim));
        assert.equal(refused.status, 401);
        assert.match(await refused.text(), /That passkey was not accepted/);
      }
      assert.equal(audit.events.filter((event) => event.type === 'mfa.failure' && event.accountId === victim.id).length, refusals.length);
      // The right answer still works: nothing above spent the challenge.
      await post(flow, 'passkey', { response: victim.device.authenticate(options) });
      assert.deepEqual((await idTokenClaims(await discover(server, APP), flow)).amr, ['pwd', 'hwk', 'mfa']);
    }
  });

  test('wrong answers are attempts of the login throttle: past its free ones, the next waits (429)', async () => {
    const victim = await personWithPasskey();
    const attacker = await personWithPasskey();
    const flow = await atSecondFactor(victim.email);
    const options = requestOptions(flow.page.html);
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 4; attempt += 1) statuses.push((await answer(flow, 'passkey', attacker.device.authenticate(options, { credentialId: attacker.passkeyId }))).status);
    assert.deepEqual(statuses, [401, 401, 401, 429]);
  });

  test('an answer is good once: a replay in another sign-in and a burst of the same answer get in at most once', async () => {
    // A synced passkey keeps no counter (0 stays 0): only the spent challenge stops a replay.
    const person = await personWithPasskey(new SoftAuthenticator({ origin: origin(), backedUp: true, counterStep: 0 }));
    const first = await atSecondFactor(person.email);
    const captured = person.device.authenticate(requestOptions(first.page.html));
    // The answer in another sign-in of the same person (its own challenge): refused.
    const second = await atSecondFactor(person.email);
    assert.equal((await answer(second, 'passkey', captured)).status, 401);
    // The same answer sent five times at once where it belongs: the challenge is spent by
    // exactly one; the rest are refused (401), or held back by the throttle (429).
    const burst = await Promise.all(Array.from({ length: 5 }, () => answer(first, 'passkey', captured)));
    const statuses = burst.map((response) => response.status).sort();
    assert.equal(statuses.filter((status) => status === 303).length, 1, `one success: ${statuses.join(',')}`);
    assert.ok(statuses.every((status) => status === 303 || status === 401 || status === 429), `the rest refused: ${statuses.join(',')}`);
    assert.equal(statuses.length, 5);
  });

  test('a cloned key (a counter that does not go up) is refused', async () => {
    const person = await personWithPasskey();
    const flow = await atSecondFactor(person.email);
    await post(flow, 'passkey', { response: person.device.authenticate(requestOptions(flow.page.html)) });
    const again = await atSecondFactor(person.email);
    const cloned = await answer(again, 'passkey', person.device.authenticate(requestOptions(again.page.html), { counter: 1 }));
    assert.equal(cloned.status, 401, 'the stored counter is 2 after a use: 1 is a clone’s');
  });
});

describe('a passkey alone (PASSKEY_SIGN_IN)', () => {
  test('the login page offers it; a discoverable passkey with user verification signs in: amr hwk, mfa and the MFA acr', async () => {
    const person = await personWithPasskey();
    const flow = await start(server, { client_id: APP });
    assert.ok(formAction(flow.page.html, 'passkey-sign-in'), 'the login page has the passkey form');
    const options = requestOptions(flow.page.html);
    assert.equal(options.allowCredentials?.length ?? 0, 0, 'any discoverable passkey: the account is not known yet');
    await post(flow, 'passkey-sign-in', { response: person.device.authenticate(options, { credentialId: person.passkeyId }) });
    const claims = await idTokenClaims(await discover(server, APP), flow);
    assert.equal(claims.sub, person.id);
    assert.deepEqual(claims.amr, ['hwk', 'mfa']);
    assert.equal(claims.acr, ACR_MFA);
    assert.ok(audit.events.some((event) => event.type === 'login.success' && event.accountId === person.id && (event.data as { passkey?: string }).passkey === person.passkeyId));
  });

  test('no user verification, another person’s user handle, a disabled owner, another sign-in’s challenge, garbage: refused', async () => {
    const unverified = new SoftAuthenticator({ origin: origin(), userVerified: false });
    const lazy = await personWithPasskey(unverified);
    const other = await personWithPasskey();
    const disabled = await personWithPasskey();
    await server.services.accounts.setDisabled(disabled.id, true);

    const flow = await start(server, { client_id: APP });
    const options = requestOptions(flow.page.html);
    const elsewhere = requestOptions((await start(server, { client_id: APP })).page.html);
    const refusals: [string, string][] = [
      ['no user verification', lazy.device.authenticate(options, { credentialId: lazy.passkeyId })],
      ['another person’s user handle', other.device.authenticate(options, { credentialId: other.passkeyId, userHandle: Buffer.from(lazy.id.replaceAll('-', ''), 'hex').toString('base64url') })],
      ['a disabled owner', disabled.device.authenticate(options, { credentialId: disabled.passkeyId })],
      ['another sign-in’s challenge', other.device.authenticate(elsewhere, { credentialId: other.passkeyId })],
      ['garbage', '{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{"clientDataJSON":"","authenticatorData":"","signature":""}}'],
    ];
    for (const [why, response] of refusals) {
      const refused = await answer(flow, 'passkey-sign-in', response);
      assert.equal(refused.status, 401, why);
      assert.match(await refused.text(), /That passkey could not sign you in/, why);
    }
    assert.ok(audit.events.some((event) => event.type === 'login.failure' && event.accountId === disabled.id && (event.data as { reason?: string }).reason === 'disabled'));
  });

  test('a login page shown over and over keeps only its newest few challenges: the oldest stops working', async () => {
    const person = await personWithPasskey();
    const shown: Awaited<ReturnType<typeof server.services.passkeys.authenticationOptions>>[] = [];
    for (let view = 0; view < 8; view += 1) shown.push(await server.services.passkeys.authenticationOptions('reloaded-interaction'));
    const oldest = await server.services.passkeys.authenticate('reloaded-interaction', person.device.authenticate(shown[0]!, { credentialId: person.passkeyId }));
    assert.equal(oldest.ok, false, 'dropped');
    const newest = await server.services.passkeys.authenticate('reloaded-interaction', person.device.authenticate(shown.at(-1)!, { credentialId: person.passkeyId }));
    assert.equal(newest.ok, true);
  });

  test('off by default: no passkey form on the login page, and its path answers nothing', async () => {
    const plain = await startTestServer({}, { declare: declaration, issuerHost: 'localhost' });
    try {
      const flow = await start(plain, { client_id: APP });
      assert.ok(formAction(flow.page.html, 'login'));
      assert.ok(!formAction(flow.page.html, 'passkey-sign-in'));
      assert.doesNotMatch(flow.page.html, /data-passkey/);
      const uid = /\/interaction\/([^/"]+)\/login/.exec(flow.page.html)![1]!;
      const refused = await submitForm(flow.jar, new URL(`/interaction/${uid}/passkey-sign-in`, plain.issuer), { csrf: csrfToken(flow.page.html), response: '{}' });
      assert.equal(refused.status, 404);
    } finally {
      await plain.close();
    }
  });
});
