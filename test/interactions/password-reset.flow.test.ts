import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';

import type { ParsedMail } from 'mailparser';
import * as oidc from 'openid-client';

import { openLoginForm, postLogin } from '../helpers/abuse.ts';
import { authorizationRequest, CookieJar, csrfToken, runBrowser, send } from '../helpers/browserless-login.ts';
import { SMTP_PASSWORD, startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// Password reset over real HTTP, with a real SMTP server in the test process that the
// server under test logs in to (SMTP_URL) and that hands the tests the messages it got.
// Each test works from its own addresses (X-Forwarded-For behind TRUST_PROXY) and its own
// people, so the throttle's counts of one test never reach another.

const REDIRECT = 'http://localhost:8080/callback';
const APP = 'reset-app';
const PASSWORD = 'the old password, long enough';
const NEW_PASSWORD = 'a brand new password, also long';

let sink: SmtpSink;
let server: TestServer;
let app: oidc.Configuration;
let people = 0;
let addresses = 0;

before(async () => {
  sink = await startSmtpSink();
  server = await startTestServer(
    {
      SMTP_URL: sink.url,
      MAIL_FROM: 'Example Sign-in <signin@example.com>',
      TRUST_PROXY: 'true',
      RATE_LIMIT_LOGIN: '600/1m',
      // Blocks after 2 wrong passwords, for the lockout test.
      AUTH_THROTTLE_FREE_FAILURES: '1',
      AUTH_THROTTLE_BLOCK_AFTER: '2',
      AUTH_THROTTLE_MAX_DELAY: '1',
    },
    {
      declare: {
        clients: [{ clientId: APP, name: 'Reset App', type: 'web', redirectUris: [REDIRECT], scopes: ['openid', 'email', 'offline_access'] }],
      },
    },
  );
  app = await oidc.discovery(new URL(server.issuer), APP, undefined, oidc.ClientSecretBasic(server.declared.clientSecret(APP)), { execute: [oidc.allowInsecureRequests] });
});

after(async () => {
  await server?.close();
  await sink?.close();
});

const client = { clientId: APP, redirectUri: REDIRECT };
const nextAddress = () => `10.20.${(++addresses >> 8) & 255}.${addresses & 255}`;

async function newPerson(): Promise<string> {
  const email = `reset${++people}@example.com`;
  await server.services.accounts.create({ email, name: `Reset ${people}`, password: PASSWORD });
  return email;
}

/** Every request's background work is done, and everything it handed to the mail queue sent. */
async function mailFor(email: string): Promise<ParsedMail[]> {
  await server.resetRequests.idle();
  await server.mailer.idle();
  return sink.to(email);
}

/** The reset link in a message's text. */
function linkIn(message: ParsedMail): URL {
  const match = /(http:\/\/\S+\/password-reset\/new\?token=[A-Za-z0-9_-]+)/.exec(message.text ?? '');
  assert.ok(match?.[1], `the message has a reset link: ${message.text}`);
  return new URL(match[1]);
}

function headers(ip: string): Record<string, string> {
  return { accept: 'text/html', 'x-forwarded-for': ip };
}

/** GET with the jar, from `ip`; the page's HTML. */
async function getPage(jar: CookieJar, url: URL, ip: string): Promise<{ response: Response; html: string }> {
  const response = await send(jar, url, { headers: headers(ip) });
  return { response, html: await response.text() };
}

async function post(jar: CookieJar, url: URL, fields: Record<string, string>, ip: string): Promise<{ response: Response; html: string }> {
  const response = await send(jar, url, {
    method: 'POST',
    headers: { ...headers(ip), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
  return { response, html: await response.text() };
}

/** From a sign-in's login page, through "Forgot password?", the request form. */
async function forgotFromLogin(ip: string) {
  const login = await openLoginForm(server.issuer, client, ip);
  const loginUrl = new URL(login.action.pathname.replace(/\/login$/, ''), server.issuer);
  const page = await getPage(login.jar, loginUrl, ip);
  const forgot = /<a href="(\/interaction\/[^"]+\/forgot)">Forgot password\?<\/a>/.exec(page.html)?.[1];
  assert.ok(forgot, 'the login page offers "Forgot password?"');
  const form = await getPage(login.jar, new URL(forgot, server.issuer), ip);
  assert.equal(form.response.status, 200);
  return { jar: login.jar, login, loginUrl, action: new URL(forgot, server.issuer), csrf: csrfToken(form.html), html: form.html };
}

/** "Forgot password?" on its own page. */
async function requestReset(email: string, ip: string, jar = new CookieJar()) {
  const form = await getPage(jar, new URL('/password-reset', server.issuer), ip);
  assert.equal(form.response.status, 200);
  return post(jar, new URL('/password-reset', server.issuer), { csrf: csrfToken(form.html), email }, ip);
}

/** Opens the link and sets `password` through its form. */
async function setPassword(link: URL, password: string, ip: string, jar = new CookieJar()) {
  const form = await getPage(jar, link, ip);
  assert.equal(form.response.status, 200, form.html.slice(0, 300));
  const token = /name="token" value="([^"]+)"/.exec(form.html)?.[1];
  assert.equal(token, link.searchParams.get('token'));
  return post(jar, new URL('/password-reset/new', server.issuer), { csrf: csrfToken(form.html), token, password }, ip);
}

async function passwordWorks(email: string, password: string): Promise<boolean> {
  return (await server.services.accounts.authenticate(email, password)).ok;
}

describe('asking for a link', () => {
  test('gives the same answer for an address with an account and one without, and mails only the account', async () => {
    const email = await newPerson();
    const unknown = `nobody${people}@example.com`;
    const ip = nextAddress();
    const forgot = await forgotFromLogin(ip);
    assert.match(forgot.html, /<label for="email">Email<\/label>/);

    const startKnown = performance.now();
    const known = await post(forgot.jar, forgot.action, { csrf: forgot.csrf, email }, ip);
    const knownMs = performance.now() - startKnown;
    const startUnknown = performance.now();
    const none = await post(forgot.jar, forgot.action, { csrf: forgot.csrf, email: unknown }, ip);
    const unknownMs = performance.now() - startUnknown;

    assert.equal(known.response.status, 200);
    assert.equal(none.response.status, 200);
    assert.match(known.html, /Check your email/);
    const shape = (html: string, address: string) => html.replaceAll(address, 'ADDRESS').replace(/nonce="[^"]+"/g, 'nonce');
    assert.equal(shape(known.html, email), shape(none.html, unknown), 'the pages differ only in the address typed (and the CSP nonce)');
    // The mail is sent after the answer: the known address costs no SMTP round trip in the page.
    assert.ok(knownMs < unknownMs + 250, `known ${knownMs.toFixed(0)} ms, unknown ${unknownMs.toFixed(0)} ms`);
    assert.match(known.html, new RegExp(`href="${forgot.loginUrl.pathname}"`), 'a way back to the same sign-in');

    const messages = await mailFor(email);
    assert.equal(messages.length, 1);
    assert.equal((await mailFor(unknown)).length, 0);
    const [message] = messages;
    assert.equal(message!.subject, 'Reset your password');
    assert.equal(message!.from?.value[0]?.address, 'signin@example.com');
    assert.match(message!.text ?? '', /within 30 minutes\. It works once\./);
    assert.ok(message!.html, 'an HTML part too');
    assert.ok(String(message!.html).includes(linkIn(message!).href.replaceAll('&', '&amp;')), 'the HTML part carries the same link');
  });

  test('answers before the account is even looked up, with an account or without, and the mail still goes', async () => {
    // The lookup held until the pages have answered: a page that waited for it (and for
    // the link's insert, which only an account costs) would tell the two apart by its time.
    const email = await newPerson();
    const unknown = `nobody${people}@example.com`;
    const accounts = server.services.accounts;
    // eslint-disable-next-line @typescript-eslint/unbound-method -- put back as it was, never called unbound
    const original = accounts.findByIdOrEmail;
    const lookup = original.bind(accounts);
    const looked: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    accounts.findByIdOrEmail = async (idOrEmail) => {
      looked.push(idOrEmail);
      await held;
      return lookup(idOrEmail);
    };
    try {
      const ip = nextAddress();
      for (const address of [email, unknown]) {
        const answer = await Promise.race([requestReset(address, ip), sleep(5_000).then(() => assert.fail(`the page for ${address} waited for the lookup`))]);
        assert.equal(answer.response.status, 200);
        assert.match(answer.html, /Check your email/);
      }
      assert.deepEqual(looked, [email, unknown], 'both lookups had begun, neither had ended');
      assert.equal(sink.to(email).length, 0);
    } finally {
      release();
      accounts.findByIdOrEmail = original;
    }
    assert.equal((await mailFor(email)).length, 1, 'the mail goes once the lookup ends');
    assert.equal((await mailFor(unknown)).length, 0);
  });

  test('sends nothing to a disabled account, and says the same', async () => {
    const email = await newPerson();
    await server.services.accounts.setDisabled(email, true);
    const answer = await requestReset(email, nextAddress());
    assert.equal(answer.response.status, 200);
    assert.match(answer.html, /Check your email/);
    assert.equal((await mailFor(email)).length, 0);
  });

  test('refuses a form without its CSRF token, and asks again for an empty address', async () => {
    const ip = nextAddress();
    const jar = new CookieJar();
    const form = await getPage(jar, new URL('/password-reset', server.issuer), ip);
    const forged = await post(jar, new URL('/password-reset', server.issuer), { email: 'someone@example.com' }, ip);
    assert.equal(forged.response.status, 403);
    const empty = await post(jar, new URL('/password-reset', server.issuer), { csrf: csrfToken(form.html), email: '' }, ip);
    assert.equal(empty.response.status, 400);
    assert.match(empty.html, /role="alert"[\s\S]*Enter the email address of your account\./);
    const structured = await send(jar, new URL('/password-reset', server.issuer), {
      method: 'POST',
      headers: { ...headers(ip), 'content-type': 'application/x-www-form-urlencoded' },
      body: `csrf=${encodeURIComponent(csrfToken(form.html))}&email[a]=1&email[b]=2`,
    });
    assert.equal(structured.status, 400);
  });

  test('is throttled per address typed, whether or not it has an account', async () => {
    for (const email of [await newPerson(), `ghost${people}@example.com`]) {
      const ip = nextAddress();
      const statuses: number[] = [];
      let last: { response: Response; html: string } | undefined;
      for (let i = 0; i < 4; i++) {
        last = await requestReset(email, ip);
        statuses.push(last.response.status);
      }
      assert.deepEqual(statuses, [200, 200, 200, 429], email);
      assert.ok(Number(last!.response.headers.get('retry-after')) >= 1);
      assert.match(last!.html, /Too many reset requests for this address or from your network\. You can try again at/);
      // Another address does not make the account's own pace go away: 3, then one every 5 minutes.
      const elsewhere = await requestReset(email, nextAddress());
      assert.equal(elsewhere.response.status, 429, 'the account is paced across addresses');
      assert.ok((await mailFor(email)).length <= 3);
    }
  });
});

describe('the link', () => {
  test('sets a new password once, tells the person by mail, and leads back to the same sign-in', async () => {
    const email = await newPerson();
    const ip = nextAddress();
    const forgot = await forgotFromLogin(ip);
    await post(forgot.jar, forgot.action, { csrf: forgot.csrf, email }, ip);
    const link = linkIn((await mailFor(email))[0]!);

    const done = await setPassword(link, NEW_PASSWORD, ip, forgot.jar);
    assert.equal(done.response.status, 200);
    assert.match(done.html, /Your password was changed/);
    assert.match(done.html, /every device signed in to your account was signed out/);
    const back = /<a class="button primary" href="([^"]+)">Continue signing in<\/a>/.exec(done.html)?.[1];
    assert.equal(back, forgot.loginUrl.pathname, 'back to the login of the same authorization request');
    assert.ok(await passwordWorks(email, NEW_PASSWORD));
    assert.equal((await server.services.accounts.findByIdOrEmail(email))!.emailVerified, true, 'the link proved the mailbox');
    assert.equal(await passwordWorks(email, PASSWORD), false);

    // The same sign-in goes on with the new password, to the client.
    const signedIn = await postLogin(forgot.login, email, NEW_PASSWORD, ip);
    assert.equal(signedIn.status, 303);
    assert.match(signedIn.headers.get('location') ?? '', /\/auth\//);

    // Once only: the page and the form both say the link is dead, and nothing changes.
    const again = await getPage(new CookieJar(), link, ip);
    assert.equal(again.response.status, 400);
    assert.match(again.html, /This link no longer works/);
    assert.match(again.html, /href="\/password-reset">Ask for a new link/);
    const jar = new CookieJar();
    const fresh = await getPage(jar, new URL('/password-reset', server.issuer), ip);
    const replay = await post(jar, new URL('/password-reset/new', server.issuer), { csrf: csrfToken(fresh.html), token: link.searchParams.get('token')!, password: 'yet another password' }, ip);
    assert.equal(replay.response.status, 400);
    assert.ok(await passwordWorks(email, NEW_PASSWORD));

    const notices = (await mailFor(email)).filter((message) => message.subject === 'Your password was changed');
    assert.equal(notices.length, 1);
    assert.match(notices[0]!.text ?? '', /signed out/);
    assert.doesNotMatch(notices[0]!.text ?? '', /token=/);
  });

  test('set by two requests at once, works for exactly one of them', async () => {
    const email = await newPerson();
    const ip = nextAddress();
    await requestReset(email, ip);
    const link = linkIn((await mailFor(email))[0]!);
    const forms = await Promise.all(
      ['first password, long enough', 'second password, long enough'].map(async (password) => {
        const jar = new CookieJar();
        const form = await getPage(jar, link, ip);
        return { jar, password, csrf: csrfToken(form.html) };
      }),
    );
    const answers = await Promise.all(
      forms.map(({ jar, password, csrf }) => post(jar, new URL('/password-reset/new', server.issuer), { csrf, token: link.searchParams.get('token')!, password }, ip)),
    );
    assert.deepEqual(answers.map((answer) => answer.response.status).sort(), [200, 400]);
    const winner = forms[answers.findIndex((answer) => answer.response.status === 200)]!;
    assert.ok(await passwordWorks(email, winner.password));
  });

  test('from the page on its own ends on a plain page, with no sign-in to go back to', async () => {
    const email = await newPerson();
    const ip = nextAddress();
    const answer = await requestReset(email, ip);
    assert.doesNotMatch(answer.html, /Back to sign in/);
    const done = await setPassword(linkIn((await mailFor(email))[0]!), NEW_PASSWORD, ip);
    assert.equal(done.response.status, 200);
    assert.doesNotMatch(done.html, /Continue signing in/);
  });

  test('is refused once expired', async () => {
    const email = await newPerson();
    const ip = nextAddress();
    await requestReset(email, ip);
    const link = linkIn((await mailFor(email))[0]!);
    const jar = new CookieJar();
    const form = await getPage(jar, link, ip);
    assert.equal(form.response.status, 200);
    await server.database.pool.query(`UPDATE password_resets SET expires_at = now() - interval '1 second'`);
    const expired = await getPage(new CookieJar(), link, ip);
    assert.equal(expired.response.status, 400);
    assert.match(expired.html, /This link no longer works/);
    const late = await post(jar, new URL('/password-reset/new', server.issuer), { csrf: csrfToken(form.html), token: link.searchParams.get('token')!, password: NEW_PASSWORD }, ip);
    assert.equal(late.response.status, 400);
    assert.match(late.html, /This link no longer works/);
    assert.ok(await passwordWorks(email, PASSWORD), 'the password is unchanged');
  });

  test('is refused when tampered with, unknown or malformed, never with a 5xx', async () => {
    const email = await newPerson();
    const ip = nextAddress();
    await requestReset(email, ip);
    const token = linkIn((await mailFor(email))[0]!).searchParams.get('token')!;
    const flipped = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
    const candidates = [flipped, randomBytes(32).toString('base64url'), '', 'x', token.slice(0, 20), `${token}A`, 'a'.repeat(5000), "' OR 1=1 --"];
    for (const candidate of candidates) {
      const page = await getPage(new CookieJar(), new URL(`/password-reset/new?token=${encodeURIComponent(candidate)}`, server.issuer), ip);
      assert.equal(page.response.status, 400, candidate.slice(0, 40));
      const jar = new CookieJar();
      const form = await getPage(jar, new URL('/password-reset', server.issuer), ip);
      const posted = await post(jar, new URL('/password-reset/new', server.issuer), { csrf: csrfToken(form.html), token: candidate, password: NEW_PASSWORD }, ip);
      assert.equal(posted.response.status, 400, candidate.slice(0, 40));
    }
    const twice = await getPage(new CookieJar(), new URL(`/password-reset/new?token=${token}&token=${token}`, server.issuer), ip);
    assert.equal(twice.response.status, 400, 'a token given twice is no token');
    assert.ok(await passwordWorks(email, PASSWORD));
    // The real link still works after all that.
    const done = await setPassword(new URL(`/password-reset/new?token=${token}`, server.issuer), NEW_PASSWORD, ip);
    assert.equal(done.response.status, 200);
  });

  test('refuses a short, long or guessable password with a clear message, and keeps working', async () => {
    const email = await newPerson();
    const ip = nextAddress();
    await requestReset(email, ip);
    const link = linkIn((await mailFor(email))[0]!);
    const short = await setPassword(link, 'short', ip);
    assert.equal(short.response.status, 400);
    assert.match(short.html, /role="alert"[\s\S]*This password is too short: use at least 8 characters\./);
    assert.match(short.html, /aria-invalid="true"/);
    const long = await setPassword(link, 'é'.repeat(513), ip);
    assert.equal(long.response.status, 400);
    assert.match(long.html, /This password is too long: use at most 1024 bytes\./);
    for (const common of ['password123', 'qwertyuiop', 'P@ssw0rd!', `${email.split('@')[0]}2024`]) {
      const guessable = await setPassword(link, common, ip);
      assert.equal(guessable.response.status, 400, common);
      assert.match(guessable.html, /This password is too easy to guess: it is a common password, or close to one, or made of your name or address\./, common);
    }
    assert.ok(await passwordWorks(email, PASSWORD));
    const done = await setPassword(link, NEW_PASSWORD, ip);
    assert.equal(done.response.status, 200);
  });
});

describe('the link and too many refused passwords', () => {
  test('ten refused passwords spend the link: the tenth answer says so, and the eleventh try finds it dead, whatever the password', async () => {
    const email = await newPerson();
    const ip = nextAddress();
    await requestReset(email, ip);
    const link = linkIn((await mailFor(email))[0]!);
    for (let i = 0; i < 10; i++) {
      // Long and guessable: judged on its first characters only (password-policy.ts), still refused.
      const refused = await setPassword(link, i % 2 ? 'password'.repeat(128) : `qwertyuiop${i}`, ip);
      assert.equal(refused.response.status, 400, `try ${i + 1}`);
      if (i < 9) assert.match(refused.html, /This password is too easy to guess/, `try ${i + 1}`);
      else assert.match(refused.html, /This link no longer works/, 'the refusal that spends the link says so');
    }
    const page = await getPage(new CookieJar(), link, ip);
    assert.equal(page.response.status, 400);
    assert.match(page.html, /This link no longer works/);
    assert.match(page.html, /tried too many times/);
    const jar = new CookieJar();
    const fresh = await getPage(jar, new URL('/password-reset', server.issuer), ip);
    const eleventh = await post(jar, new URL('/password-reset/new', server.issuer), { csrf: csrfToken(fresh.html), token: link.searchParams.get('token')!, password: NEW_PASSWORD }, ip);
    assert.equal(eleventh.response.status, 400);
    assert.match(eleventh.html, /This link no longer works/);
    assert.ok(await passwordWorks(email, PASSWORD), 'the password is unchanged');
  });
});

// What `portcullis users disable|enable|set-password` call (cli/users-command.ts): the
// service itself, since the embedded database takes one connection (the server's).
describe('an operator', () => {
  test('disabling an account spends its open links: enabled again, the old link stays dead', async () => {
    const email = await newPerson();
    const ip = nextAddress();
    await requestReset(email, ip);
    const link = linkIn((await mailFor(email))[0]!);
    await server.services.accounts.setDisabled(email, true);
    await server.services.accounts.setDisabled(email, false);
    const page = await getPage(new CookieJar(), link, ip);
    assert.equal(page.response.status, 400);
    assert.match(page.html, /This link no longer works/);
    assert.ok(await passwordWorks(email, PASSWORD));
  });

  test("setting a person's password spends their open links", async () => {
    const email = await newPerson();
    const ip = nextAddress();
    await requestReset(email, ip);
    const link = linkIn((await mailFor(email))[0]!);
    const operatorPassword = 'set by the operator, long enough';
    await server.services.accounts.setPassword(email, operatorPassword);
    const page = await getPage(new CookieJar(), link, ip);
    assert.equal(page.response.status, 400);
    assert.match(page.html, /This link no longer works/);
    assert.ok(await passwordWorks(email, operatorPassword), "the operator's password stands");
  });
});

describe('after a reset', () => {
  test("every session and refresh token of the account has ended", async () => {
    const email = await newPerson();
    const jar = new CookieJar();
    const request = authorizationRequest(server.issuer, { client_id: APP, redirect_uri: REDIRECT, scope: 'openid offline_access', prompt: 'consent' });
    const result = await runBrowser(request.url, { jar, email, password: PASSWORD });
    const tokens = await oidc.authorizationCodeGrant(app, result.url, { pkceCodeVerifier: request.verifier, expectedState: request.state });
    assert.ok(tokens.refresh_token);
    const accessToken = tokens.access_token;

    const ip = nextAddress();
    await requestReset(email, ip);
    const done = await setPassword(linkIn((await mailFor(email))[0]!), NEW_PASSWORD, ip);
    assert.equal(done.response.status, 200);

    await assert.rejects(oidc.refreshTokenGrant(app, tokens.refresh_token), (error: unknown) => (error as { error?: string }).error === 'invalid_grant');
    const introspected = await oidc.tokenIntrospection(app, accessToken);
    assert.equal(introspected.active, false, 'the access token ended too');
    // The browser's session ended: a new request asks for the password again.
    const next = authorizationRequest(server.issuer, { client_id: APP, redirect_uri: REDIRECT });
    const again = await runBrowser(next.url, { jar, email, password: NEW_PASSWORD });
    assert.equal(again.pages[0], 'login');
  });

  test('a person locked out of the account can sign in again with the new password', async () => {
    const email = await newPerson();
    const ip = nextAddress();
    const form = await openLoginForm(server.issuer, client, ip);
    let blocked = false;
    for (let i = 0; i < 10 && !blocked; i++) {
      const response = await postLogin(form, email, `wrong guess ${i}`, ip);
      await response.body?.cancel();
      const wait = Number(response.headers.get('retry-after'));
      if (response.status === 429 && wait > 60) blocked = true;
      else if (response.status === 429) await sleep(wait * 1000 + 50);
    }
    assert.ok(blocked, 'the account is blocked from this address');

    await requestReset(email, ip);
    const done = await setPassword(linkIn((await mailFor(email))[0]!), NEW_PASSWORD, ip);
    assert.equal(done.response.status, 200);
    // The throttle looks for releases at most once a second (abuse/throttle-releases.ts).
    await sleep(1_100);
    const retry = await openLoginForm(server.issuer, client, ip);
    const signedIn = await postLogin(retry, email, NEW_PASSWORD, ip);
    assert.equal(signedIn.status, 303, 'the block is lifted');
    assert.match(signedIn.headers.get('location') ?? '', /\/auth\//);
  });

  test('is in the audit trail, and neither the link nor the mail password is in the logs', async () => {
    await server.resetRequests.idle();
    await server.auditWriter.flush();
    const { rows } = await server.database.pool.query<{ type: string; n: string }>(
      `SELECT type, count(*) AS n FROM audit_events WHERE type LIKE 'password_reset.%' GROUP BY type`,
    );
    const counts = Object.fromEntries(rows.map((row) => [row.type, Number(row.n)]));
    assert.ok(counts['password_reset.requested']! > 0);
    assert.ok(counts['password_reset.completed']! > 0);
    assert.ok(counts['password_reset.failed']! > 0);
    // What a reset changed is recorded as done by the person, not by the system.
    const { rows: changes } = await server.database.pool.query<{ type: string; actor: string; account_id: string }>(
      `SELECT type, actor, account_id FROM audit_events WHERE type IN ('user.password_changed', 'user.tokens_revoked') AND account_id IN (SELECT account_id FROM audit_events WHERE type = 'password_reset.completed')`,
    );
    assert.ok(changes.some((row) => row.type === 'user.password_changed'));
    for (const row of changes.filter((change) => change.type === 'user.password_changed' || change.type === 'user.tokens_revoked')) {
      assert.equal(row.actor, row.account_id, `${row.type} by the person`);
    }
    const logs = server.logs();
    assert.ok(!logs.includes(SMTP_PASSWORD) && !logs.includes(encodeURIComponent(SMTP_PASSWORD)), 'no SMTP password');
    for (const message of sink.messages) {
      const token = /token=([A-Za-z0-9_-]+)/.exec(message.text ?? '')?.[1];
      if (token) assert.ok(!logs.includes(token), 'no reset token in the logs');
    }
    assert.match(logs, /"mail":"password_reset"[^\n]*"mail sent"|mail sent/);
  });
});

test('the login page offers no "Forgot password?" when password reset is off', async () => {
  const off = await startTestServer({ PASSWORD_RESET: 'false' }, { declare: { clients: [{ clientId: 'off-app', name: 'Off', type: 'web', redirectUris: [REDIRECT] }] } });
  try {
    const form = await openLoginForm(off.issuer, { clientId: 'off-app', redirectUri: REDIRECT }, '127.0.0.1');
    const page = await getPage(form.jar, new URL(form.action.pathname.replace(/\/login$/, ''), off.issuer), '127.0.0.1');
    assert.doesNotMatch(page.html, /Forgot password/);
    const standalone = await fetch(new URL('/password-reset', off.issuer), { headers: { accept: 'text/html' } });
    assert.equal(standalone.status, 404);
    await standalone.body?.cancel();
  } finally {
    await off.close();
  }
});

