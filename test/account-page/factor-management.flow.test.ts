import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { Secret, TOTP } from 'otpauth';

import { accountUrl, signInToAccountPage } from '../helpers/account-page.ts';
import { CookieJar, csrfToken, submitForm, type Page } from '../helpers/browserless-login.ts';
import { captureAudit } from '../helpers/capture-audit.ts';
import { mailedCode } from '../helpers/second-factor-pages.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.ts';
import { SoftAuthenticator } from '../helpers/soft-authenticator.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// Managing second factors from the account page, over real HTTP with a real SMTP server:
// removing the authenticator app and making new recovery codes, each with the current
// password and then a code mailed to the account (the proofs of adding a factor); tried as an
// attacker with a page session and the password would (no mailed code, a wrong one, a wrong
// password), and checked for what is left (codes with a passkey, none without; old codes
// dead; two renewals at once leave one set).

const PASSWORD = 'a factor managing password';

const CHANGE_CODE = 'Your code to change two-step verification';
const audit = captureAudit();
let sink: SmtpSink;
let server: TestServer;
let people = 0;
let addresses = 0;

before(async () => {
  sink = await startSmtpSink();
  server = await startTestServer({ SMTP_URL: sink.url, MAIL_FROM: 'Sign-in <signin@example.com>', RATE_LIMIT_LOGIN: '600/1m', TRUST_PROXY: 'true' }, { issuerHost: 'localhost', audit });
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

/** A change's form with the right password, then the code mailed for it: the change's answer. */
async function withProofs(jar: CookieJar, csrf: string, email: string, path: string, fields: Record<string, string> = {}) {
  const asked = await post(jar, path, { csrf, current: PASSWORD, ...fields });
  assert.equal(asked.status, 200, asked.html.slice(0, 300));
  assert.match(asked.html, /first enter the code we sent to/);
  return post(jar, '/authenticator/mailbox', { csrf, code: await mailedCode(server, sink, email, CHANGE_CODE) });
}

test('the authenticator app is removed with the current password and a mailed code only: its recovery codes go with it, the owner is told', async () => {
  const person = await personWithApp();
  const { jar, page } = await signedIn(person);
  assert.match(page.html, /Remove authenticator app/);
  const csrf = csrfToken(page.html);

  const refused = await post(jar, '/authenticator/remove', { csrf, current: 'not the password' });
  assert.equal(refused.status, 400);
  assert.match(refused.html, /<details class="factor-manage" open>/, 'the error shows in the form that was used');
  assert.equal((await server.services.secondFactors.factors(person.id)).totp, true, 'a page session alone removes nothing');
  // The password alone removes nothing: a wrong mailed code, or none at all.
  const asked = await post(jar, '/authenticator/remove', { csrf, current: PASSWORD });
  assert.equal(asked.status, 200);
  assert.equal((await post(jar, '/authenticator/mailbox', { csrf, code: '00000 00000' })).status, 401);
  assert.equal((await server.services.secondFactors.factors(person.id)).totp, true, 'the password without the mailbox removes nothing');

  const removed = await withProofs(jar, csrf, person.email, '/authenticator/remove');
  assert.equal(removed.status, 303);
  assert.equal(removed.location, '/account?done=authenticator-removed');
  assert.deepEqual(await server.services.secondFactors.factors(person.id), { totp: false, passkeys: 0, recoveryCodes: 0 });
  assert.equal((await server.services.secondFactors.verify(person.id, person.recoveryCodes[0]!)).ok, false, 'its recovery codes no longer work');
  await server.mailer.idle();
  assert.ok(sink.to(person.email).some((mail) => mail.subject === 'Your authenticator app was removed'));
  assert.ok(audit.events.some((event) => event.type === 'mfa.authenticator_removed' && event.accountId === person.id));
  // Again: nothing left to remove, nothing said, nothing mailed.
  assert.equal((await post(jar, '/authenticator/remove', { csrf, current: PASSWORD })).location, '/account');
});

test('with a passkey left, removing the app keeps the recovery codes', async () => {
  const person = await personWithApp();
  const device = new SoftAuthenticator({ origin: new URL(server.issuer).origin });
  const options = await server.services.passkeys.registrationOptions({ id: person.id, email: person.email }, 'binding');
  assert.ok((await server.services.passkeys.register(person.id, 'binding', options.challenge, device.register(options), 'Key')).ok);
  const { jar, page } = await signedIn(person);
  const removed = await withProofs(jar, csrfToken(page.html), person.email, '/authenticator/remove');
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

  const passwordOnly = await post(jar, '/recovery-codes', { csrf, current: PASSWORD });
  assert.equal(passwordOnly.status, 200);
  assert.doesNotMatch(passwordOnly.html, /<li><code>/, 'no codes for the password alone');
  const renewed = await withProofs(jar, csrf, person.email, '/recovery-codes');
  assert.equal(renewed.status, 200);
  const codes = [...renewed.html.matchAll(/<li><code>([^<]+)<\/code><\/li>/g)].map((match) => match[1]!);
  assert.equal(codes.length, 10);
  assert.equal((await server.services.secondFactors.factors(person.id)).recoveryCodes, 10);
  assert.equal((await server.services.secondFactors.verify(person.id, person.recoveryCodes[0]!)).ok, false, 'an old code no longer works');
  assert.equal((await server.services.secondFactors.verify(person.id, codes[0]!)).ok, true, 'a new one does');
  await server.mailer.idle();
  assert.ok(sink.to(person.email).some((mail) => mail.subject === 'New recovery codes for your account'));
  assert.ok(audit.events.some((event) => event.type === 'mfa.recovery_codes_renewed' && event.accountId === person.id));
});

test('two renewals at once leave one set of ten codes', async () => {
  const person = await personWithApp();
  const renewals = await Promise.all(Array.from({ length: 4 }, () => server.services.secondFactors.renewRecoveryCodes(person.id)));
  assert.ok(renewals.every((codes) => codes?.length === 10));
  assert.equal((await server.services.secondFactors.factors(person.id)).recoveryCodes, 10);
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
