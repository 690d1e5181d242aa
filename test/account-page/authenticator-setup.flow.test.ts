import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { Secret, TOTP } from 'otpauth';

import { accountUrl, signInToAccountPage } from '../helpers/account-page.ts';
import { CookieJar, csrfToken, submitForm, type Page } from '../helpers/browserless-login.ts';
import { mailedCode } from '../helpers/second-factor-pages.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// Setting up an authenticator app from the account page, over real HTTP with a real SMTP
// server in the test process: the current password, the code mailed to the account, then a
// code of the new app; tried as an attacker would (no password, a wrong or another
// session's mailbox code, skipping the mailbox step, a wrong app code, a second setup).

const PASSWORD = 'an authenticator setup password';

let sink: SmtpSink;
let server: TestServer;
let people = 0;
let addresses = 0;

before(async () => {
  sink = await startSmtpSink();
  server = await startTestServer({ SMTP_URL: sink.url, MAIL_FROM: 'Sign-in <signin@example.com>', RATE_LIMIT_LOGIN: '600/1m', TRUST_PROXY: 'true' });
});

after(async () => {
  await server?.close();
  await sink?.close();
});

async function newPerson(): Promise<{ email: string; id: string }> {
  const email = `setup${++people}@example.com`;
  const account = await server.services.accounts.create({ email, name: `Setup ${people}`, password: PASSWORD });
  return { email, id: account.id };
}

async function signedIn(email: string): Promise<{ jar: CookieJar; page: Page }> {
  const jar = new CookieJar();
  jar.forwardedFor = `10.40.${(++addresses >> 8) & 255}.${addresses & 255}`;
  return signInToAccountPage(server.issuer, email, PASSWORD, jar);
}

async function post(jar: CookieJar, path: string, fields: Record<string, string>): Promise<{ status: number; location: string | null; html: string }> {
  const response = await submitForm(jar, accountUrl(server.issuer, path), fields);
  return { status: response.status, location: response.headers.get('location'), html: await response.text() };
}

const keyOf = (html: string) => /id="totp-key">([A-Z2-7 ]+)</.exec(html)?.[1]?.replaceAll(' ', '');
const appCode = (key: string) => TOTP.generate({ secret: Secret.fromBase32(key) });

/** A person signed in to the page, past the password and the mailed code: at the app's secret. */
async function atScanStep(): Promise<{ person: { email: string; id: string }; jar: CookieJar; csrf: string; key: string }> {
  const person = await newPerson();
  const { jar, page } = await signedIn(person.email);
  const csrf = csrfToken(page.html);
  await post(jar, '/authenticator', { csrf, current: PASSWORD });
  const scan = await post(jar, '/authenticator/mailbox', { csrf, code: await mailedCode(server, sink, person.email) });
  const key = keyOf(scan.html);
  assert.ok(key, 'the app’s secret is shown');
  return { person, jar, csrf, key };
}

test('password, mailed code, app code: the authenticator is set up, ten recovery codes shown once, the owner told', async () => {
  const person = await newPerson();
  const { jar, page } = await signedIn(person.email);
  const csrf = csrfToken(page.html);
  const started = await post(jar, '/authenticator', { csrf, current: PASSWORD });
  assert.equal(started.status, 200);
  assert.match(started.html, /first enter the code we sent to/);
  assert.doesNotMatch(started.html, /totp-key/, 'no secret before the mailbox is proved');

  const scan = await post(jar, '/authenticator/mailbox', { csrf, code: await mailedCode(server, sink, person.email) });
  assert.equal(scan.status, 200);
  const key = keyOf(scan.html);
  assert.ok(key, 'the key to type by hand');
  assert.match(scan.html, /<svg/);

  // The very code sent, kept: computed again later it may be the next step's (a fresh, valid code).
  const confirmation = appCode(key);
  const done = await post(jar, '/authenticator/confirm', { csrf, code: confirmation });
  assert.equal(done.status, 200);
  assert.equal((done.html.match(/<li><code>/g) ?? []).length, 10, 'ten recovery codes');
  assert.equal(await server.services.secondFactors.state(person.id), 'confirmed');
  await server.mailer.idle();
  assert.ok(sink.to(person.email).some((mail) => /authenticator/i.test(mail.subject ?? '')), 'the owner is told');
  assert.equal((await server.services.secondFactors.verify(person.id, confirmation)).ok, false, 'the code used to confirm is spent');

  // Set up: the page says so and offers no second setup; a forced one goes back to the page.
  const again = await post(jar, '/authenticator', { csrf, current: PASSWORD });
  assert.equal(again.status, 303);
  await server.auditWriter.flush();
  const types = (await server.database.prisma.auditEvent.findMany({ where: { accountId: person.id, type: { startsWith: 'mfa.' } }, orderBy: { id: 'asc' } })).map((event) => event.type);
  assert.deepEqual(types, ['mfa.mailbox_code_sent', 'mfa.mailbox_proven', 'mfa.enrolment_started', 'mfa.enrolled']);
});

test('no mail and no secret without the right password', async () => {
  const person = await newPerson();
  const { jar, page } = await signedIn(person.email);
  const refused = await post(jar, '/authenticator', { csrf: csrfToken(page.html), current: 'not the password' });
  assert.equal(refused.status, 400);
  assert.match(refused.html, /not your current password/);
  await server.mailer.idle();
  assert.equal(sink.to(person.email).length, 0);
});

test('the app’s secret only after the mailed code of this very page session: a wrong code, another session’s, or none', async () => {
  const person = await newPerson();
  const { jar, page } = await signedIn(person.email);
  const other = await signedIn(person.email);
  const csrf = csrfToken(page.html);
  // Skipping the mailbox step.
  const skipped = await post(jar, '/authenticator/confirm', { csrf, code: '123456' });
  assert.equal(skipped.status, 303);
  await post(other.jar, '/authenticator', { csrf: csrfToken(other.page.html), current: PASSWORD });
  const othersCode = await mailedCode(server, sink, person.email);
  await post(jar, '/authenticator', { csrf, current: PASSWORD });
  const wrong = await post(jar, '/authenticator/mailbox', { csrf, code: '00000 00000' });
  assert.equal(wrong.status, 401);
  assert.doesNotMatch(wrong.html, /totp-key/);
  const foreign = await post(jar, '/authenticator/mailbox', { csrf, code: othersCode });
  assert.equal(foreign.status, 401, 'a code mailed for another page session does not work here');
  // The other session's step cookie in this session: not this session's step.
  const stolen = jar.copy();
  stolen.set('portcullis.account-enrol', other.jar.get('portcullis.account-enrol')!);
  stolen.set('portcullis.account-enrol.sig', other.jar.get('portcullis.account-enrol.sig')!);
  const replayed = await post(stolen, '/authenticator/mailbox', { csrf, code: othersCode });
  assert.equal(replayed.status, 303, 'another session’s step is no step here');
  assert.equal(await server.services.secondFactors.state(person.id), 'none');
});

test('a wrong app code sets up nothing and shows the same secret again', async () => {
  const { person, jar, csrf, key } = await atScanStep();
  const wrong = await post(jar, '/authenticator/confirm', { csrf, code: '000000' === appCode(key) ? '111111' : '000000' });
  assert.equal(wrong.status, 401);
  assert.equal(keyOf(wrong.html), key, 'the same secret, so the app scanned stays right');
  assert.equal(await server.services.secondFactors.state(person.id), 'none');
  const right = await post(jar, '/authenticator/confirm', { csrf, code: appCode(key) });
  assert.equal(right.status, 200);
  assert.equal(await server.services.secondFactors.state(person.id), 'confirmed');
});

test('when another browser with this session’s cookies confirmed first, the person is told, never sent back silently', async () => {
  const { jar, csrf, key } = await atScanStep();
  // A copy of this browser's cookies (stolen during the QR step) confirms first.
  const copy = jar.copy();
  assert.equal((await post(copy, '/authenticator/confirm', { csrf, code: appCode(key) })).status, 200);
  const late = await post(jar, '/authenticator/confirm', { csrf, code: appCode(key) });
  assert.equal(late.status, 409);
  assert.match(late.html, /set up already, from another browser/);
});

test('two browsers of one session confirming at the same moment: one gets the codes, the other is told, no failure counted', async () => {
  const { person, jar, csrf, key } = await atScanStep();
  const answers = await Promise.all([jar.copy(), jar.copy()].map((copy) => post(copy, '/authenticator/confirm', { csrf, code: appCode(key) })));
  assert.deepEqual(answers.map((answer) => answer.status).sort(), [200, 409]);
  await server.auditWriter.flush();
  const failures = await server.database.prisma.auditEvent.count({ where: { accountId: person.id, type: 'mfa.failure' } });
  assert.equal(failures, 0, 'a right code is not a failure');
});
