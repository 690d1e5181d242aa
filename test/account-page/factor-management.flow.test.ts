import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { Secret, TOTP } from 'otpauth';

import { accountUrl, signInToAccountPage } from '../helpers/account-page.ts';
import { CookieJar, csrfToken, submitForm, type Page } from '../helpers/browserless-login.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.ts';
import { SoftAuthenticator } from '../helpers/soft-authenticator.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// Managing second factors from the account page, over real HTTP with a real SMTP server:
// removing the authenticator app and making new recovery codes, each with the current
// password; tried as an attacker with only a page session would (no password, a wrong one),
// and checked for what is left (codes with a passkey, none without; old codes dead).

const PASSWORD = 'a factor managing password';

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

/** A person with an authenticator app (set up through the service): its secret and recovery codes. */
async function personWithApp(): Promise<{ id: string; email: string; secret: string; recoveryCodes: readonly string[] }> {
  const email = `factors${++people}@example.com`;
  const account = await server.services.accounts.create({ email, name: `Factors ${people}`, password: PASSWORD });
  const enrolment = await server.services.secondFactors.startEnrolment(account, 'test');
  assert.ok(enrolment);
  const code = TOTP.generate({ secret: Secret.fromBase32(enrolment.secret), timestamp: Date.now() - 30_000 });
  const recoveryCodes = await server.services.secondFactors.confirmEnrolment(account.id, 'test', enrolment.sealed, code);
  assert.ok(recoveryCodes);
  return { id: account.id, email, secret: enrolment.secret, recoveryCodes };
}

/** Signed in to the page: the password, then (the person has an app) one of their recovery codes. */
async function signedIn(person: { email: string; recoveryCodes: readonly string[] }, recoveryCode = person.recoveryCodes.at(-1)!): Promise<{ jar: CookieJar; page: Page }> {
  const jar = new CookieJar();
  jar.forwardedFor = `10.42.${(++addresses >> 8) & 255}.${addresses & 255}`;
  return signInToAccountPage(server.issuer, person.email, PASSWORD, jar, recoveryCode);
}

async function post(jar: CookieJar, path: string, fields: Record<string, string>): Promise<{ status: number; location: string | null; html: string }> {
  const response = await submitForm(jar, accountUrl(server.issuer, path), fields);
  return { status: response.status, location: response.headers.get('location'), html: await response.text() };
}

test('the authenticator app is removed with the current password only: its recovery codes go with it, the owner is told', async () => {
  const person = await personWithApp();
  const { jar, page } = await signedIn(person);
  assert.match(page.html, /Remove authenticator app/);
  const csrf = csrfToken(page.html);

  const refused = await post(jar, '/authenticator/remove', { csrf, current: 'not the password' });
  assert.equal(refused.status, 400);
  assert.equal((await server.services.secondFactors.factors(person.id)).totp, true, 'a page session alone removes nothing');
  const none = await post(jar, '/authenticator/remove', { csrf });
  assert.equal(none.status, 400);

  const removed = await post(jar, '/authenticator/remove', { csrf, current: PASSWORD });
  assert.equal(removed.status, 303);
  assert.equal(removed.location, '/account?done=authenticator-removed');
  assert.deepEqual(await server.services.secondFactors.factors(person.id), { totp: false, passkeys: 0, recoveryCodes: 0 });
  assert.equal((await server.services.secondFactors.verify(person.id, person.recoveryCodes[0]!)).ok, false, 'its recovery codes no longer work');
  await server.mailer.idle();
  assert.ok(sink.to(person.email).some((mail) => mail.subject === 'Your authenticator app was removed'));
  // Again: nothing left to remove, nothing said.
  assert.equal((await post(jar, '/authenticator/remove', { csrf, current: PASSWORD })).location, '/account');
});

test('with a passkey left, removing the app keeps the recovery codes', async () => {
  const person = await personWithApp();
  const device = new SoftAuthenticator({ origin: new URL(server.issuer).origin });
  const options = await server.services.passkeys.registrationOptions({ id: person.id, email: person.email }, 'binding');
  assert.ok((await server.services.passkeys.register(person.id, 'binding', options.challenge, device.register(options), 'Key')).ok);
  const { jar, page } = await signedIn(person);
  const removed = await post(jar, '/authenticator/remove', { csrf: csrfToken(page.html), current: PASSWORD });
  assert.equal(removed.status, 303);
  const factors = await server.services.secondFactors.factors(person.id);
  assert.equal(factors.totp, false);
  assert.equal(factors.passkeys, 1);
  assert.equal(factors.recoveryCodes, 9, 'the codes stay (one was spent signing in)');
});

test('new recovery codes need the current password, replace every old one, are shown once, and the owner is told', async () => {
  const person = await personWithApp();
  const { jar, page } = await signedIn(person);
  assert.match(page.html, /Unused recovery codes: 9\./);
  const csrf = csrfToken(page.html);

  const refused = await post(jar, '/recovery-codes', { csrf, current: 'not the password' });
  assert.equal(refused.status, 400);
  assert.equal((await server.services.secondFactors.factors(person.id)).recoveryCodes, 9);

  const renewed = await post(jar, '/recovery-codes', { csrf, current: PASSWORD });
  assert.equal(renewed.status, 200);
  const codes = [...renewed.html.matchAll(/<li><code>([^<]+)<\/code><\/li>/g)].map((match) => match[1]!);
  assert.equal(codes.length, 10);
  assert.equal((await server.services.secondFactors.factors(person.id)).recoveryCodes, 10);
  assert.equal((await server.services.secondFactors.verify(person.id, person.recoveryCodes[0]!)).ok, false, 'an old code no longer works');
  assert.equal((await server.services.secondFactors.verify(person.id, codes[0]!)).ok, true, 'a new one does');
  await server.mailer.idle();
  assert.ok(sink.to(person.email).some((mail) => mail.subject === 'New recovery codes for your account'));
});

test('an account without a factor gets no recovery codes and is offered none', async () => {
  const email = `factors${++people}@example.com`;
  await server.services.accounts.create({ email, name: 'No factor', password: PASSWORD });
  const jar = new CookieJar();
  jar.forwardedFor = `10.42.200.${++addresses & 255}`;
  const { page } = await signInToAccountPage(server.issuer, email, PASSWORD, jar);
  assert.doesNotMatch(page.html, /Make new recovery codes/);
  const renewed = await post(jar, '/recovery-codes', { csrf: csrfToken(page.html), current: PASSWORD });
  assert.equal(renewed.status, 303);
  assert.equal(renewed.location, '/account');
});
