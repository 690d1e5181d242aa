import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { accountUrl, signInToAccountPage } from '../helpers/account-page.ts';
import { CookieJar, csrfToken, openPage, submitForm, type Page } from '../helpers/browserless-login.ts';
import { mailedCode } from '../helpers/second-factor-pages.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.ts';
import { SoftAuthenticator } from '../helpers/soft-authenticator.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';
import { creationOptions } from '../helpers/passkey-pages.ts';

// Adding and removing passkeys on the account page, over real HTTP with a real SMTP server
// and a software authenticator (the device is the one edge simulated): the current password,
// the code mailed to the account, then the new passkey's answer to this page session's
// challenge; tried as an attacker would (steps skipped, another origin or RP ID, another
// session's challenge, a replayed answer, garbage, another person's passkey to remove).

const PASSWORD = 'a passkey owner password';

let sink: SmtpSink;
let server: TestServer;
let people = 0;
let addresses = 0;

before(async () => {
  sink = await startSmtpSink();
  server = await startTestServer({ SMTP_URL: sink.url, MAIL_FROM: 'Sign-in <signin@example.com>', RATE_LIMIT_LOGIN: '600/1m', TRUST_PROXY: 'true' }, { issuerHost: 'localhost' });
});

after(async () => {
  await server?.close();
  await sink?.close();
});

async function newPerson(): Promise<{ email: string; id: string }> {
  const email = `passkey${++people}@example.com`;
  const account = await server.services.accounts.create({ email, name: `Passkey ${people}`, password: PASSWORD });
  return { email, id: account.id };
}

async function signedIn(email: string): Promise<{ jar: CookieJar; page: Page }> {
  const jar = new CookieJar();
  jar.forwardedFor = `10.41.${(++addresses >> 8) & 255}.${addresses & 255}`;
  return signInToAccountPage(server.issuer, email, PASSWORD, jar);
}

async function post(jar: CookieJar, path: string, fields: Record<string, string>): Promise<{ status: number; location: string | null; html: string }> {
  const response = await submitForm(jar, accountUrl(server.issuer, path), fields);
  return { status: response.status, location: response.headers.get('location'), html: await response.text() };
}

/** Signed in, past the password and the mailed code: at the page that asks the browser to create the passkey. */
async function atCeremony(person: { email: string }, name = 'Work laptop', session?: { jar: CookieJar; page: Page }) {
  const { jar, page } = session ?? (await signedIn(person.email));
  const csrf = csrfToken(page.html);
  const started = await post(jar, '/passkeys', { csrf, name, current: PASSWORD });
  assert.equal(started.status, 200, started.html.slice(0, 300));
  assert.match(started.html, /To add a passkey, first enter the code/);
  const ceremony = await post(jar, '/authenticator/mailbox', { csrf, code: await mailedCode(server, sink, person.email) });
  assert.equal(ceremony.status, 200);
  return { jar, csrf, options: creationOptions(ceremony.html) };
}

const origin = () => new URL(server.issuer).origin;

test('password, mailed code, the passkey’s answer: added, listed, the owner mailed, ten recovery codes for a first factor', async () => {
  const person = await newPerson();
  const device = new SoftAuthenticator({ origin: origin() });
  const { jar, csrf, options } = await atCeremony(person);
  assert.equal(options.rp.id, 'localhost', 'the RP ID is the issuer’s host');
  assert.equal(options.attestation, 'none');
  const added = await post(jar, '/passkeys/register', { csrf, response: device.register(options) });
  assert.equal(added.status, 200);
  assert.equal((added.html.match(/<li><code>/g) ?? []).length, 10, 'ten recovery codes, the first factor');
  const keys = await server.services.passkeys.list(person.id);
  assert.deepEqual(
    keys.map((key) => [key.id, key.name, key.synced]),
    [[[...device.credentials.keys()][0], 'Work laptop', false]],
  );
  assert.equal(await server.services.secondFactors.state(person.id), 'confirmed');
  await server.mailer.idle();
  assert.ok(sink.to(person.email).some((mail) => mail.subject === 'A passkey was added to your account'), 'the owner is told');
  const page = await openPage(jar, accountUrl(server.issuer));
  assert.match(page.html, /Work laptop/);
  assert.match(page.html, /device-bound/);

  // A second one (synced): no new recovery codes, back to the page saying so.
  const synced = new SoftAuthenticator({ origin: origin(), backedUp: true, counterStep: 0 });
  const second = await atCeremony(person, 'Phone', { jar, page });
  const again = await post(jar, '/passkeys/register', { csrf: second.csrf, response: synced.register(second.options) });
  assert.equal(again.status, 303);
  assert.equal(again.location, '/account?done=passkey');
  assert.equal((await server.services.passkeys.list(person.id)).length, 2);
  assert.equal((await server.services.secondFactors.factors(person.id)).recoveryCodes, 10, 'the first set stays');
});

test('no passkey without the mailed code: the register step refuses a session that skipped it, and stores nothing', async () => {
  const person = await newPerson();
  const { jar, page } = await signedIn(person.email);
  const csrf = csrfToken(page.html);
  // Password only: the code is mailed, but not typed back; a wrong one shows no ceremony.
  const asked = await post(jar, '/passkeys', { csrf, name: 'Sneaky', current: PASSWORD });
  assert.doesNotMatch(asked.html, /data-passkey="register"/, 'no ceremony for the password alone');
  const wrongCode = await post(jar, '/authenticator/mailbox', { csrf, code: '12345 67890' });
  assert.equal(wrongCode.status, 401);
  assert.doesNotMatch(wrongCode.html, /data-passkey="register"/, 'no ceremony for a wrong code');
  const device = new SoftAuthenticator({ origin: origin() });
  const options = { challenge: 'AAAAAAAAAAAAAAAAAAAAAA', rp: { id: 'localhost', name: 'x' }, user: { id: 'AAAA' } };
  const skipped = await post(jar, '/passkeys/register', { csrf, response: device.register(options) });
  assert.equal(skipped.status, 303);
  assert.equal(skipped.location, '/account');
  // A wrong current password: no mail at all.
  await server.mailer.idle();
  const before = sink.to(person.email).length;
  const wrong = await post(jar, '/passkeys', { csrf, name: 'Sneaky', current: 'not the password' });
  assert.equal(wrong.status, 400);
  await server.mailer.idle();
  assert.equal(sink.to(person.email).length, before, 'no code mailed');
  assert.deepEqual(await server.services.passkeys.list(person.id), []);
});

test('an answer for another origin, another RP ID, another page session’s challenge, a replay or garbage adds nothing', async () => {
  const person = await newPerson();
  const device = new SoftAuthenticator({ origin: origin() });
  const first = await atCeremony(person);
  const post400 = async (response: string, why: string) => {
    const refused = await post(first.jar, '/passkeys/register', { csrf: first.csrf, response });
    assert.equal(refused.status, 400, why);
    assert.match(refused.html, /could not be added/, why);
  };
  await post400(device.register(first.options, { origin: 'https://evil.example' }), 'another origin');
  await post400(device.register(first.options, { rpId: 'evil.example' }), 'another RP ID');
  // Another session of the same person, with its own challenge: not this session's.
  const other = await atCeremony(person, 'Other');
  await post400(device.register(other.options), 'another page session’s challenge');
  for (const garbage of ['', 'null', '{}', '{"id":"x","rawId":"x","type":"public-key","response":{}}', 'x'.repeat(70_000), '{"id":"%%%"}']) {
    const refused = await post(first.jar, '/passkeys/register', { csrf: first.csrf, response: garbage });
    assert.ok(refused.status === 400 || refused.status === 413, `garbage ${garbage.slice(0, 20)}: ${refused.status}`);
  }
  assert.deepEqual(await server.services.passkeys.list(person.id), [], 'nothing stored');

  // The right answer works once; the same answer again (a replay) adds nothing more.
  const fresh = await atCeremony(person, 'Once', { jar: first.jar, page: await openPage(first.jar, accountUrl(server.issuer)) });
  const answer = device.register(fresh.options);
  const added = await post(first.jar, '/passkeys/register', { csrf: fresh.csrf, response: answer });
  assert.equal(added.status, 200);
  const replay = await post(first.jar, '/passkeys/register', { csrf: fresh.csrf, response: answer });
  assert.equal(replay.status, 303, 'the steps are spent');
  assert.equal((await server.services.passkeys.list(person.id)).length, 1);
});

test('removing a passkey needs the current password; another person’s passkey cannot be removed; the owner is told', async () => {
  const person = await newPerson();
  const intruder = await newPerson();
  const device = new SoftAuthenticator({ origin: origin() });
  const { jar, csrf, options } = await atCeremony(person);
  await post(jar, '/passkeys/register', { csrf, response: device.register(options) });
  const [key] = await server.services.passkeys.list(person.id);
  assert.ok(key);

  const wrong = await post(jar, '/passkeys/remove', { csrf, id: key.id, current: 'not it' });
  assert.equal(wrong.status, 400);
  assert.match(wrong.html, /<details class="passkey-remove" open>/, 'the error shows in that passkey’s form');
  assert.equal((await server.services.passkeys.list(person.id)).length, 1);

  const intruderSession = await signedIn(intruder.email);
  const foreign = await post(intruderSession.jar, '/passkeys/remove', { csrf: csrfToken(intruderSession.page.html), id: key.id, current: PASSWORD });
  assert.equal(foreign.status, 303);
  assert.equal((await server.services.passkeys.list(person.id)).length, 1, 'another person’s passkey stays');

  // The password alone removes nothing: the code mailed to the account is asked first.
  const asked = await post(jar, '/passkeys/remove', { csrf, id: key.id, current: PASSWORD });
  assert.equal(asked.status, 200);
  assert.equal((await server.services.passkeys.list(person.id)).length, 1);
  const removed = await post(jar, '/authenticator/mailbox', { csrf, code: await mailedCode(server, sink, person.email, 'Your code to change two-step verification') });
  assert.equal(removed.status, 303);
  assert.equal(removed.location, '/account?done=passkey-removed');
  assert.deepEqual(await server.services.passkeys.list(person.id), []);
  await server.mailer.idle();
  assert.ok(sink.to(person.email).some((mail) => mail.subject === 'A passkey was removed from your account'));
  assert.equal((await server.services.secondFactors.factors(person.id)).recoveryCodes, 0, 'the last factor gone, its recovery codes too');

  // A new first passkey comes with new recovery codes again.
  const next = await atCeremony(person, 'Next', { jar, page: await openPage(jar, accountUrl(server.issuer)) });
  const again = await post(jar, '/passkeys/register', { csrf: next.csrf, response: device.register(next.options) });
  assert.equal((again.html.match(/<li><code>/g) ?? []).length, 10);
});

test('a name with text-direction characters, an empty or an overlong one is refused before any mail', async () => {
  const person = await newPerson();
  const { jar, page } = await signedIn(person.email);
  const csrf = csrfToken(page.html);
  for (const name of ['', '   ', 'a\u202Eb', 'x'.repeat(65)]) {
    const refused = await post(jar, '/passkeys', { csrf, name, current: PASSWORD });
    assert.equal(refused.status, 400, JSON.stringify(name));
    assert.match(refused.html, /name of up to 64 characters/);
  }
  await server.mailer.idle();
  assert.equal(sink.to(person.email).length, 0);
});

test('an operator’s reset of the factors removes the passkeys too', async () => {
  const person = await newPerson();
  const device = new SoftAuthenticator({ origin: origin() });
  const { jar, csrf, options } = await atCeremony(person);
  await post(jar, '/passkeys/register', { csrf, response: device.register(options) });
  assert.equal(await server.services.secondFactors.reset(person.id), true);
  assert.deepEqual(await server.services.passkeys.list(person.id), []);
  assert.equal(await server.services.secondFactors.state(person.id), 'none');
});

test('a credential id longer than WebAuthn allows is refused (400, nothing stored); the longest allowed one can be removed', async () => {
  const person = await newPerson();
  const tooLong = new SoftAuthenticator({ origin: origin(), credentialIdBytes: 1024 });
  const first = await atCeremony(person);
  const refused = await post(first.jar, '/passkeys/register', { csrf: first.csrf, response: tooLong.register(first.options) });
  assert.equal(refused.status, 400);
  assert.deepEqual(await server.services.passkeys.list(person.id), []);

  const longest = new SoftAuthenticator({ origin: origin(), credentialIdBytes: 1023 });
  const again = await atCeremony(person, 'Longest', { jar: first.jar, page: await openPage(first.jar, accountUrl(server.issuer)) });
  assert.equal((await post(first.jar, '/passkeys/register', { csrf: again.csrf, response: longest.register(again.options) })).status, 200);
  const [key] = await server.services.passkeys.list(person.id);
  assert.equal(Buffer.from(key!.id, 'base64url').length, 1023);
  assert.equal((await post(first.jar, '/passkeys/remove', { csrf: again.csrf, id: key!.id, current: PASSWORD })).status, 200);
  const removed = await post(first.jar, '/authenticator/mailbox', { csrf: again.csrf, code: await mailedCode(server, sink, person.email, 'Your code to change two-step verification') });
  assert.equal(removed.location, '/account?done=passkey-removed');
  assert.deepEqual(await server.services.passkeys.list(person.id), []);
});

test('the proofs add one passkey: a copy of the step cookie kept from before adds none', async () => {
  const person = await newPerson();
  const device = new SoftAuthenticator({ origin: origin() });
  const { jar, csrf, options } = await atCeremony(person);
  const step = { value: jar.get('portcullis.account-enrol')!, sig: jar.get('portcullis.account-enrol.sig')! };
  assert.equal((await post(jar, '/passkeys/register', { csrf, response: device.register(options) })).status, 200);
  // The step cookie put back: its challenge was spent by the passkey it added.
  jar.set('portcullis.account-enrol', step.value);
  jar.set('portcullis.account-enrol.sig', step.sig);
  const replayed = await post(jar, '/passkeys/register', { csrf, response: device.register(options) });
  assert.equal(replayed.status, 303);
  assert.equal(replayed.location, '/account');
  assert.equal((await server.services.passkeys.list(person.id)).length, 1);
});

test('a burst of registrations keeps the limit of 20 passkeys, and two first passkeys at once store one set of recovery codes', async () => {
  const person = await newPerson();
  const device = new SoftAuthenticator({ origin: origin() });
  const register = async (binding: string) => {
    const options = await server.services.passkeys.registrationOptions({ id: person.id, email: person.email }, binding);
    return server.services.passkeys.register(person.id, binding, options.challenge, device.register(options), binding);
  };
  // Two first passkeys at once: one set of ten codes, shown to one of them.
  const firsts = await Promise.all([register('first-a'), register('first-b')]);
  assert.ok(firsts.every((outcome) => outcome.ok));
  assert.equal(firsts.filter((outcome) => outcome.ok && outcome.recoveryCodes).length, 1);
  assert.equal((await server.services.secondFactors.factors(person.id)).recoveryCodes, 10);
  // Options first (each its own challenge), then every answer at once: 18 more fit of 24.
  const answers = await Promise.all(
    Array.from({ length: 24 }, async (_, index) => {
      const binding = `burst-${index}`;
      const options = await server.services.passkeys.registrationOptions({ id: person.id, email: person.email }, binding);
      return { binding, challenge: options.challenge, response: device.register(options) };
    }),
  );
  const burst = await Promise.all(answers.map((one) => server.services.passkeys.register(person.id, one.binding, one.challenge, one.response, one.binding)));
  assert.equal(burst.filter((outcome) => outcome.ok).length, 18, 'eighteen more fit');
  assert.ok(burst.filter((outcome) => !outcome.ok).every((outcome) => !outcome.ok && outcome.reason === 'too_many'));
  assert.equal((await server.services.passkeys.list(person.id)).length, 20);
});
