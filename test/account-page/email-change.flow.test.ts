import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import type { ParsedMail } from 'mailparser';

import { accountUrl, signInToAccountPage } from '../helpers/account-page.ts';
import { CookieJar, csrfToken, runBrowser, send, submitForm } from '../helpers/browserless-login.ts';
import { mailedCode } from '../helpers/second-factor-pages.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// A change of address from the account page, over real HTTP with a real SMTP server in the
// test process: asked for with the password, made only by the link mailed to the new
// address, opened signed in as the account that asked, and tried as an attacker would (no
// password, a taken address, a replayed or replaced link, a mail scanner's GET, no CSRF
// token, another account's link, two accounts racing for one address, two requests at once).

const PASSWORD = 'a change of address password';

let sink: SmtpSink;
let server: TestServer;
let people = 0;
let addresses = 0;

/** A browser of its own address. */
function newBrowser(): CookieJar {
  const jar = new CookieJar();
  jar.forwardedFor = `10.30.${(++addresses >> 8) & 255}.${addresses & 255}`;
  return jar;
}

before(async () => {
  sink = await startSmtpSink();
  // Each browser comes from an address of its own (behind TRUST_PROXY): the mail count per
  // address (10 at once) is the throttle's business, not these tests'.
  server = await startTestServer({ SMTP_URL: sink.url, MAIL_FROM: 'Sign-in <signin@example.com>', RATE_LIMIT_LOGIN: '600/1m', TRUST_PROXY: 'true' });
});

after(async () => {
  await server?.close();
  await sink?.close();
});

async function newPerson(): Promise<{ email: string; id: string }> {
  const email = `mover${++people}@example.com`;
  const account = await server.services.accounts.create({ email, name: `Mover ${people}`, password: PASSWORD });
  return { email, id: account.id };
}

async function mailFor(email: string): Promise<ParsedMail[]> {
  await server.mailer.idle();
  return sink.to(email);
}

function linkIn(message: ParsedMail | undefined): URL {
  const match = /(http:\/\/\S+\/account\/email\/confirm\?token=[A-Za-z0-9_-]+)/.exec(message?.text ?? '');
  assert.ok(match?.[1], `the message has a link: ${message?.text}`);
  return new URL(match[1]);
}

const CODE_SUBJECT = 'Your code to change your email address';

/** Signs in to the page and asks for `email` with the password; the answer (the page asking for the current mailbox's code). */
async function askFor(person: { email: string }, email: string, current = PASSWORD) {
  const { jar, page } = await signInToAccountPage(server.issuer, person.email, PASSWORD, newBrowser());
  const csrf = csrfToken(page.html);
  const response = await submitForm(jar, accountUrl(server.issuer, '/email'), { csrf, email, current });
  return { jar, csrf, response, html: await response.text() };
}

/** The whole request: the password, then the code mailed to the current address; the last answer. */
async function requestChange(person: { email: string }, email: string) {
  const asked = await askFor(person, email);
  assert.equal(asked.response.status, 200, asked.html.slice(0, 300));
  assert.match(asked.html, /first enter the code we sent to your current address/);
  const code = await mailedCode(server, sink, person.email, CODE_SUBJECT);
  const response = await submitForm(asked.jar, accountUrl(server.issuer, '/email/code'), { csrf: asked.csrf, code });
  return { jar: asked.jar, response };
}

/** Opens the link in a browser signed in to the page (GET: the form), then presses its button (POST). */
async function confirm(link: URL, jar: CookieJar) {
  const form = await send(jar, link, { headers: { accept: 'text/html' } });
  const html = await form.text();
  if (form.status !== 200) return { status: form.status, html };
  const token = /name="token" value="([^"]+)"/.exec(html)?.[1] ?? '';
  const response = await submitForm(jar, accountUrl(server.issuer, '/email/confirm'), { csrf: csrfToken(html), token });
  return { status: response.status, html: await response.text() };
}

test('the new address gets a link; opening it shows the change, pressing the button makes it; the old address is told', async () => {
  const person = await newPerson();
  const next = `moved${people}@example.net`;
  const resetBefore = await server.services.passwordResets.request(person.email);
  assert.ok(resetBefore.token);
  const asked = await requestChange(person, next);
  assert.equal(asked.response.status, 303);
  assert.equal(asked.response.headers.get('location'), '/account?done=email');
  const [message] = await mailFor(next);
  assert.equal(message?.subject, 'Confirm your new email address');
  const link = linkIn(message);

  // A mail scanner fetching the link changes nothing (it is sent to a sign-in).
  const scanned = await send(newBrowser(), link);
  assert.equal(scanned.status, 302);
  assert.equal(new URL(scanned.headers.get('location')!).pathname, '/auth');
  const peeked = await send(asked.jar, link);
  assert.equal(peeked.status, 200);
  assert.match(await peeked.text(), new RegExp(`Your account <strong>${person.email}</strong> will use <strong>${next}</strong>`));
  assert.equal((await server.services.accounts.findById(person.id))?.email, person.email);
  // Nor does a POST without the form's token.
  const forged = await submitForm(asked.jar, accountUrl(server.issuer, '/email/confirm'), { token: link.searchParams.get('token')! });
  assert.equal(forged.status, 403);

  const done = await confirm(link, asked.jar);
  assert.equal(done.status, 200);
  assert.match(done.html, /Address changed/);
  const account = await server.services.accounts.findById(person.id);
  assert.equal(account?.email, next);
  assert.equal(account?.emailVerified, true);
  assert.ok((await server.services.accounts.authenticate(next, PASSWORD)).ok, 'signs in with the new address');
  assert.ok(!(await server.services.accounts.authenticate(person.email, PASSWORD)).ok);
  assert.equal(await server.services.passwordResets.isUsable(resetBefore.token), false, 'a reset link mailed to the old address is spent');
  const told = await mailFor(person.email);
  assert.ok(told.some((mail) => mail.subject === 'Your email address was changed' && (mail.text ?? '').includes(next)));

  const again = await confirm(link, asked.jar);
  assert.equal(again.status, 400, 'the link works once');
  await server.auditWriter.flush();
  const types = (await server.database.prisma.auditEvent.findMany({ where: { accountId: person.id, type: { startsWith: 'user.email' } }, orderBy: { id: 'asc' } })).map((event) => event.type);
  assert.deepEqual(types, ['user.email_change_code_sent', 'user.email_change_requested', 'user.email_changed']);
});

test('refused without the right password, for a malformed or the same address; nothing mailed', async () => {
  const person = await newPerson();
  const next = `never${people}@example.net`;
  const wrong = await askFor(person, next, 'not the password');
  assert.equal(wrong.response.status, 400);
  assert.match(wrong.html, /not your current password/);
  for (const address of ['"quoted"@example.net', 'two@@example.net', person.email.toUpperCase()]) {
    const refused = await askFor(person, address);
    assert.equal(refused.response.status, 400, address);
  }
  assert.equal((await mailFor(next)).length, 0);
  assert.equal((await mailFor(person.email)).length, 0, 'no code mailed either');
  assert.equal(await server.database.prisma.emailChange.count({ where: { accountId: person.id } }), 0);
});

test('the password alone moves nothing: without the code mailed to the current address, no link goes to the new one', async () => {
  const person = await newPerson();
  const next = `hijack${people}@example.net`;
  const asked = await askFor(person, next);
  assert.equal(asked.response.status, 200);
  const code = await mailedCode(server, sink, person.email, CODE_SUBJECT);
  assert.match((await mailFor(person.email)).at(-1)?.text ?? '', new RegExp(`change its address to ${next}`), 'the owner is told what is asked');
  const wrong = await submitForm(asked.jar, accountUrl(server.issuer, '/email/code'), { csrf: asked.csrf, code: '00000 00000' });
  assert.equal(wrong.status, 401);
  // A code of this page session mailed for something else (an authenticator) is no proof here.
  await submitForm(asked.jar, accountUrl(server.issuer, '/authenticator'), { csrf: asked.csrf, current: PASSWORD });
  const otherPurpose = await mailedCode(server, sink, person.email);
  assert.equal((await submitForm(asked.jar, accountUrl(server.issuer, '/email/code'), { csrf: asked.csrf, code: otherPurpose })).status, 401);
  // Signed in, without the step (its cookie gone): back to the page, nothing mailed.
  const stepless = asked.jar.copy();
  stepless.delete('portcullis.account-address');
  stepless.delete('portcullis.account-address.sig');
  const skipped = await submitForm(stepless, accountUrl(server.issuer, '/email/code'), { csrf: asked.csrf, code });
  assert.equal(skipped.status, 303);
  assert.equal(skipped.headers.get('location'), '/account');
  assert.equal((await mailFor(next)).length, 0, 'nothing mailed to the new address');
  assert.equal(await server.database.prisma.emailChange.count({ where: { email: next } }), 0);
  // The right code, then: the link goes.
  const right = await submitForm(asked.jar, accountUrl(server.issuer, '/email/code'), { csrf: asked.csrf, code });
  assert.equal(right.status, 303);
  assert.equal((await mailFor(next)).length, 1);
});

test('an address with an account of its own: the same answer, nothing mailed to it, nothing stored', async () => {
  const person = await newPerson();
  const owner = await newPerson();
  const before = (await mailFor(owner.email)).length;
  const asked = await requestChange(person, owner.email);
  assert.equal(asked.response.status, 303);
  assert.equal(asked.response.headers.get('location'), '/account?done=email');
  assert.equal((await mailFor(owner.email)).length, before);
  assert.equal(await server.database.prisma.emailChange.count({ where: { accountId: person.id } }), 0);
});

test('opened signed out, the link leads through the sign-in back to itself', async () => {
  const person = await newPerson();
  const next = `later${people}@example.net`;
  await requestChange(person, next);
  const link = linkIn((await mailFor(next))[0]);
  const jar = newBrowser();
  const start = await send(jar, link);
  const result = await runBrowser(new URL(start.headers.get('location')!), { jar, email: person.email, password: PASSWORD, stopAt: (url) => url.pathname === '/account/callback' });
  const back = await send(jar, result.url);
  assert.equal(back.headers.get('location'), `${link.pathname}${link.search}`, 'back to the link, not elsewhere');
  assert.equal((await confirm(link, jar)).status, 200);
  assert.equal((await server.services.accounts.findById(person.id))?.email, next);
});

test('another account’s link, opened in a person’s signed-in browser, changes nothing of anyone', async () => {
  // The attacker asks for the victim's new address from their own account; the victim gets
  // two alike mails and opens the attacker's.
  const victim = await newPerson();
  const attacker = await newPerson();
  const next = `contested-new${people}@example.net`;
  const mine = await requestChange(victim, next);
  await requestChange(attacker, next);
  const [, attackersLink] = (await mailFor(next)).map(linkIn);
  assert.ok(attackersLink);
  const opened = await send(mine.jar, attackersLink);
  assert.equal(opened.status, 400);
  assert.doesNotMatch(await opened.text(), /name="token"/, 'no form for another account’s link');
  const pressed = await submitForm(mine.jar, accountUrl(server.issuer, '/email/confirm'), { csrf: csrfToken((await (await send(mine.jar, accountUrl(server.issuer))).text())), token: attackersLink.searchParams.get('token')! });
  assert.equal(pressed.status, 400);
  assert.equal((await server.services.accounts.findById(attacker.id))?.email, attacker.email);
  assert.equal((await server.services.accounts.findById(victim.id))?.email, victim.email);
});

test('two requests at once leave one open link', async () => {
  // At the store, where nothing staggers them (the password and code checks of the page
  // do): each request waits for the account's row, so only the last link is open.
  const person = await newPerson();
  await Promise.all([1, 2, 3, 4, 5, 6].map((n) => server.services.emailChanges.request(person.id, `store${n}-${people}@example.net`)));
  assert.equal(await server.database.prisma.emailChange.count({ where: { accountId: person.id, usedAt: null } }), 1);
});

test('a newer request replaces the earlier link', async () => {
  const person = await newPerson();
  await requestChange(person, `first${people}@example.net`);
  const { jar } = await requestChange(person, `second${people}@example.net`);
  const first = linkIn((await mailFor(`first${people}@example.net`))[0]);
  const second = linkIn((await mailFor(`second${people}@example.net`))[0]);
  assert.equal((await confirm(first, jar)).status, 400);
  assert.equal((await confirm(second, jar)).status, 200);
  assert.equal((await server.services.accounts.findById(person.id))?.email, `second${people}@example.net`);
});

test('two accounts racing for one address: one gets it, the other a clear refusal, no 5xx', async () => {
  const a = await newPerson();
  const b = await newPerson();
  const contested = `contested${people}@example.net`;
  const jars = [(await requestChange(a, contested)).jar, (await requestChange(b, contested)).jar];
  const links = (await mailFor(contested)).map(linkIn);
  assert.equal(links.length, 2);
  const outcomes = await Promise.all(links.map((link, index) => confirm(link, jars[index]!)));
  assert.deepEqual(outcomes.map((outcome) => outcome.status).sort(), [200, 400]);
  const holders = await server.database.prisma.account.count({ where: { email: contested } });
  assert.equal(holders, 1);
});

test('a disabled account’s link changes nothing, even at the store (the page session ends first)', async () => {
  const person = await newPerson();
  const next = `disabled-store${people}@example.net`;
  const token = await server.services.emailChanges.request(person.id, next);
  await server.services.accounts.setDisabled(person.id, true);
  assert.deepEqual(await server.services.emailChanges.confirm(token, person.id), { ok: false, reason: 'invalid_link' });
  assert.equal((await server.services.accounts.findById(person.id))?.email, person.email);
  assert.equal(await server.database.prisma.emailChange.count({ where: { accountId: person.id, usedAt: null } }), 0, 'the link is spent');
});

test('a disabled account’s link does nothing', async () => {
  const person = await newPerson();
  const next = `disabled${people}@example.net`;
  const { jar } = await requestChange(person, next);
  const link = linkIn((await mailFor(next))[0]);
  await server.services.accounts.setDisabled(person.id, true);
  assert.notEqual((await confirm(link, jar)).status, 200);
  assert.equal((await server.services.accounts.findById(person.id))?.email, person.email);
});
