import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import type { ParsedMail } from 'mailparser';
import * as oidc from 'openid-client';

import { authorizationRequest, CookieJar, csrfToken, runBrowser, send } from '../helpers/browserless-login.ts';
import { captureAudit } from '../helpers/capture-audit.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.ts';
import { TEST_ENGINE } from '../helpers/test-database.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// Sign-up (REGISTRATION=open and invite) over real HTTP, with a real SMTP server in the
// test process that hands the tests the messages the server sent. Each test works from its
// own addresses (X-Forwarded-For behind TRUST_PROXY) and its own people, so the throttle's
// counts of one test never reach another.

const REDIRECT = 'http://localhost:8080/callback';
const APP = 'signup-app';
const PASSWORD = 'a long password of my own choosing';

let sink: SmtpSink;
let open: TestServer;
let invite: TestServer;
let off: TestServer;
let app: oidc.Configuration;
const audit = captureAudit();
let people = 0;
let addresses = 0;

const declare = { clients: [{ clientId: APP, name: 'Sign-up App', type: 'web' as const, redirectUris: [REDIRECT], scopes: ['openid', 'email', 'profile'] }] };
const env = (registration: string) => ({ SMTP_URL: sink.url, TRUST_PROXY: 'true', RATE_LIMIT_LOGIN: '600/1m', REGISTRATION: registration });

before(async () => {
  sink = await startSmtpSink();
  // One after another: each brings up its own database, and three at once on a loaded
  // machine can outwait the embedded database's connection timeout.
  open = await startTestServer(env('open'), { declare, audit });
  invite = await startTestServer(env('invite'), { declare });
  off = await startTestServer({ SMTP_URL: sink.url }, { declare });
  app = await oidc.discovery(new URL(open.issuer), APP, undefined, oidc.ClientSecretBasic(open.declared.clientSecret(APP)), { execute: [oidc.allowInsecureRequests] });
});

after(async () => {
  await Promise.all([open?.close(), invite?.close(), off?.close()]);
  await sink?.close();
});

const nextAddress = () => `10.30.${(++addresses >> 8) & 255}.${addresses & 255}`;
const newEmail = () => `newcomer${++people}@example.com`;

async function mailFor(server: TestServer, email: string): Promise<ParsedMail[]> {
  await server.resetRequests.idle();
  await server.mailer.idle();
  return sink.to(email);
}

function linkIn(message: ParsedMail): URL {
  const match = /(http:\/\/\S+\/signup\/complete\?token=[A-Za-z0-9_-]+)/.exec(message.text ?? '');
  assert.ok(match?.[1], `the message has a sign-up link: ${message.text}`);
  return new URL(match[1]);
}

const headers = (ip: string) => ({ accept: 'text/html', 'x-forwarded-for': ip });

async function getPage(jar: CookieJar, url: URL, ip: string) {
  const response = await send(jar, url, { headers: headers(ip) });
  return { response, html: await response.text() };
}

async function post(jar: CookieJar, url: URL, fields: Record<string, string>, ip: string) {
  const response = await send(jar, url, { method: 'POST', headers: { ...headers(ip), 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });
  return { response, html: await response.text() };
}

/** The address form of /signup (with an invitation token, when given) and its answer. */
async function requestSignUp(server: TestServer, email: string, ip: string, options: { invite?: string; jar?: CookieJar } = {}) {
  const jar = options.jar ?? new CookieJar();
  const url = new URL('/signup', server.issuer);
  if (options.invite) url.searchParams.set('invite', options.invite);
  const form = await getPage(jar, url, ip);
  assert.equal(form.response.status, 200, form.html.slice(0, 300));
  const invite = /name="invite" value="([^"]+)"/.exec(form.html)?.[1];
  return post(jar, new URL('/signup', server.issuer), { csrf: csrfToken(form.html), email, ...(invite && { invite }) }, ip);
}

/** Opens the link and sends a name and password through its form. */
async function complete(server: TestServer, link: URL, fields: { name: string; password: string }, ip: string, jar = new CookieJar()) {
  const form = await getPage(jar, link, ip);
  assert.equal(form.response.status, 200, form.html.slice(0, 300));
  const token = /name="token" value="([^"]+)"/.exec(form.html)?.[1];
  assert.equal(token, link.searchParams.get('token'));
  return post(jar, new URL('/signup/complete', server.issuer), { csrf: csrfToken(form.html), token: token, ...fields }, ip);
}

/** A link for a new address, through /signup. */
async function linkFor(server: TestServer, email: string, options: { invite?: string } = {}): Promise<URL> {
  const answer = await requestSignUp(server, email, nextAddress(), options);
  assert.equal(answer.response.status, 200, answer.html.slice(0, 300));
  const messages = await mailFor(server, email);
  return linkIn(messages.at(-1)!);
}

const accountOf = (server: TestServer, email: string) => server.services.accounts.findByIdOrEmail(email);

describe('open sign-up', () => {
  test('from a sign-in: the address is proved by the mailed link, the account is made there, and the sign-in goes on with email_verified true', async () => {
    const email = newEmail();
    const ip = nextAddress();
    const jar = new CookieJar();
    const request = authorizationRequest(open.issuer, { client_id: APP, redirect_uri: REDIRECT, scope: 'openid email profile' });
    const page = await send(jar, request.url, { headers: headers(ip) });
    const interaction = new URL(page.headers.get('location')!, open.issuer);
    const login = await getPage(jar, interaction, ip);
    const signUpPath = /<a href="(\/interaction\/[^"]+\/signup)">Create an account<\/a>/.exec(login.html)?.[1];
    assert.ok(signUpPath, 'the login page offers "Create an account"');
    const form = await getPage(jar, new URL(signUpPath, open.issuer), ip);
    assert.equal(form.response.status, 200);
    assert.match(form.html, /<label for="email">Email<\/label>/);
    const sent = await post(jar, new URL(signUpPath, open.issuer), { csrf: csrfToken(form.html), email }, ip);
    assert.equal(sent.response.status, 200);
    assert.match(sent.html, /Check your email/);
    assert.equal(await accountOf(open, email), undefined, 'nothing is made before the link is opened');

    const [message] = await mailFor(open, email);
    assert.equal(message!.subject, 'Finish making your account');
    assert.match(message!.text ?? '', /within 60 minutes\. It works once\./);
    const link = linkIn(message!);
    const done = await complete(open, link, { name: 'New Comer', password: PASSWORD }, ip, jar);
    assert.equal(done.response.status, 201, done.html.slice(0, 400));
    assert.match(done.html, /Your account is ready/);
    const back = /<a class="button primary" href="([^"]+)">Continue signing in<\/a>/.exec(done.html)?.[1];
    assert.equal(back, interaction.pathname, 'back to the login of the same authorization request');

    const account = await accountOf(open, email);
    assert.ok(account);
    assert.equal(account.emailVerified, true);
    assert.equal(account.name, 'New Comer');
    assert.deepEqual(account.roles, []);
    assert.ok(audit.events.some((event) => event.type === 'signup.completed' && event.accountId === account.id && event.actor === account.id));

    const result = await runBrowser(new URL(back, open.issuer), { jar, email, password: PASSWORD });
    const tokens = await oidc.authorizationCodeGrant(app, result.url, { pkceCodeVerifier: request.verifier, expectedState: request.state });
    const claims = tokens.claims()!;
    assert.equal(claims.sub, account.id);
    const info = await oidc.fetchUserInfo(app, tokens.access_token, claims.sub);
    assert.equal(info.email, email);
    assert.equal(info.email_verified, true);
    assert.equal(info.name, 'New Comer');
  });

  test('an address that has an account gets the same page, and its owner a mail that says so instead of a link', async () => {
    const email = newEmail();
    await open.services.accounts.create({ email, name: 'Already Here', password: PASSWORD });
    const unknown = newEmail();
    const ip = nextAddress();
    const known = await requestSignUp(open, email, ip);
    const fresh = await requestSignUp(open, unknown, ip);
    assert.equal(known.response.status, 200);
    const shape = (html: string, address: string) => html.replaceAll(address, 'ADDRESS').replace(/nonce="[^"]+"/g, 'nonce');
    assert.equal(shape(known.html, email), shape(fresh.html, unknown), 'the pages differ only in the address typed (and the CSP nonce)');

    const [told] = await mailFor(open, email);
    assert.equal(told!.subject, 'You already have an account');
    assert.doesNotMatch(told!.text ?? '', /signup\/complete/, 'no sign-up link to an address that has an account');
    assert.match(told!.text ?? '', /\/password-reset/);
    const { rows } = await open.database.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM sign_up_links WHERE email = $1`, [email]);
    assert.equal(rows[0]!.n, 0);
    assert.equal((await accountOf(open, email))!.name, 'Already Here');
  });

  test('a link makes one account, once: a replay and a burst of the same link make nothing more', async () => {
    const email = newEmail();
    const link = await linkFor(open, email);
    const ip = nextAddress();
    const jar = new CookieJar();
    const form = await getPage(jar, link, ip);
    const fields = { csrf: csrfToken(form.html), token: link.searchParams.get('token')!, name: 'Burst', password: PASSWORD };
    const answers = await Promise.all(Array.from({ length: 6 }, () => post(jar, new URL('/signup/complete', open.issuer), fields, ip)));
    const statuses = answers.map((answer) => answer.response.status).sort();
    assert.deepEqual(statuses, [201, 400, 400, 400, 400, 400]);
    const { rows } = await open.database.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM accounts WHERE email = $1`, [email]);
    assert.equal(rows[0]!.n, 1);
    const replay = await getPage(new CookieJar(), link, ip);
    assert.equal(replay.response.status, 400);
    assert.match(replay.html, /This link no longer works/);
  });

  test('two links to one address completed at once: one account, the other link dead, no 5xx (on Postgres they would deadlock)', async () => {
    for (let round = 0; round < 3; round++) {
      const email = newEmail();
      const links = [await linkFor(open, email), await linkFor(open, email), await linkFor(open, email)];
      const ip = nextAddress();
      const forms = await Promise.all(
        links.map(async (link) => {
          const jar = new CookieJar();
          const form = await getPage(jar, link, ip);
          return { jar, fields: { csrf: csrfToken(form.html), token: link.searchParams.get('token')!, name: 'Racer', password: PASSWORD } };
        }),
      );
      const answers = await Promise.all(forms.map(({ jar, fields }) => post(jar, new URL('/signup/complete', open.issuer), fields, ip)));
      assert.deepEqual(answers.map((answer) => answer.response.status).sort(), [201, 400, 400], `round ${round}`);
      const { rows } = await open.database.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM accounts WHERE email = $1`, [email]);
      assert.equal(rows[0]!.n, 1);
    }
  });

  test('making the account spends every other link to the address', async () => {
    const email = newEmail();
    const first = await linkFor(open, email);
    const second = await linkFor(open, email);
    assert.notEqual(first.href, second.href);
    const done = await complete(open, second, { name: 'Second', password: PASSWORD }, nextAddress());
    assert.equal(done.response.status, 201);
    const stale = await getPage(new CookieJar(), first, nextAddress());
    assert.equal(stale.response.status, 400);
  });

  test('a guessable password or an empty name is refused and the link still works; too many refusals spend it', async () => {
    const email = newEmail();
    const link = await linkFor(open, email);
    const ip = nextAddress();
    const weak = await complete(open, link, { name: 'Weak', password: 'password123' }, ip);
    assert.equal(weak.response.status, 400);
    assert.match(weak.html, /too easy to guess/);
    // Strong to zxcvbn alone, guessable once the address and the name count as known words.
    const ownWords = await complete(open, link, { name: 'Zebulon Quixote', password: `${email.split('@')[0]}example` }, ip);
    assert.equal(ownWords.response.status, 400, 'the address is a guessable word');
    const ownName = await complete(open, link, { name: 'Zebulon Quixote', password: 'zebulonquixote' }, ip);
    assert.equal(ownName.response.status, 400, 'the name is a guessable word');
    const noName = await complete(open, link, { name: '   ', password: PASSWORD }, ip);
    assert.equal(noName.response.status, 400);
    assert.match(noName.html, /Enter your name/);
    assert.equal(await accountOf(open, email), undefined);
    for (let i = 4; i < 10; i++) await complete(open, link, { name: 'Weak', password: 'short' }, ip);
    const spent = await getPage(new CookieJar(), link, ip);
    assert.equal(spent.response.status, 400, 'ten refusals spend the link');
    assert.equal(await accountOf(open, email), undefined);
  });

  test('an expired link, a malformed token and a forged form make nothing, without a 5xx', async () => {
    const email = newEmail();
    const link = await linkFor(open, email);
    const ip = nextAddress();
    const jar = new CookieJar();
    const form = await getPage(jar, link, ip);
    const forged = await post(jar, new URL('/signup/complete', open.issuer), { token: link.searchParams.get('token')!, name: 'Forged', password: PASSWORD }, ip);
    assert.equal(forged.response.status, 403, 'no CSRF token');
    await open.database.pool.query(`UPDATE sign_up_links SET expires_at = now() - interval '1 second' WHERE email = $1`, [email]);
    const expired = await post(jar, new URL('/signup/complete', open.issuer), { csrf: csrfToken(form.html), token: link.searchParams.get('token')!, name: 'Late', password: PASSWORD }, ip);
    assert.equal(expired.response.status, 400);
    assert.match(expired.html, /This link no longer works/);
    for (const token of ['', 'x', 'A'.repeat(43), 'A'.repeat(5000), '../../etc', "' OR 1=1 --"]) {
      const url = new URL('/signup/complete', open.issuer);
      url.searchParams.set('token', token);
      assert.equal((await getPage(new CookieJar(), url, ip)).response.status, 400, token.slice(0, 20));
    }
    const structured = await send(jar, new URL('/signup/complete', open.issuer), {
      method: 'POST',
      headers: { ...headers(ip), 'content-type': 'application/x-www-form-urlencoded' },
      body: `csrf=${encodeURIComponent(csrfToken(form.html))}&token[a]=1&name[b]=2&password=x`,
    });
    assert.equal(structured.status, 400);
    assert.equal(await accountOf(open, email), undefined);
  });

  test('an address given an account by an operator meanwhile: the link makes nothing and says so', async () => {
    const email = newEmail();
    const link = await linkFor(open, email);
    await open.services.accounts.create({ email, name: 'Operator Made', password: PASSWORD });
    const answer = await complete(open, link, { name: 'Late Comer', password: 'another long password of mine' }, nextAddress());
    assert.equal(answer.response.status, 409);
    assert.match(answer.html, /This address already has an account/);
    const account = await accountOf(open, email);
    assert.equal(account!.name, 'Operator Made');
    assert.ok((await open.services.accounts.authenticate(email, PASSWORD)).ok, 'its password is the operator’s still');
    assert.equal((await getPage(new CookieJar(), link, nextAddress())).response.status, 400, 'the link is spent: it can never make an account');
  });

  test('requests are throttled per address typed (mail to one inbox is paced), apart from password resets', async () => {
    const email = newEmail();
    const ip = nextAddress();
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await requestSignUp(open, email, ip)).response.status);
    assert.deepEqual(statuses, [200, 200, 200, 429]);
    const elsewhere = await requestSignUp(open, email, nextAddress());
    assert.equal(elsewhere.response.status, 429, 'the address typed is paced across networks');
    assert.equal((await mailFor(open, email)).length, 3);
    // Resets count apart: the owner of an address flooded with sign-ups can still reset.
    const resetForm = await getPage(new CookieJar(), new URL('/password-reset', open.issuer), ip);
    assert.equal(resetForm.response.status, 200);
  });

  test('sub-addresses (ann+1@, ann+2@ ...) count as the one mailbox they reach; quoted and dotted spellings are refused', async () => {
    const local = `flooded${++people}`;
    const ip = nextAddress();
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await requestSignUp(open, `${local}+${i}@example.com`, ip)).response.status);
    assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
    assert.equal((await requestSignUp(open, `${local}@example.com`, nextAddress())).response.status, 429, 'the plain address shares the count');
    // Spellings that mail the same inbox under another name (a comment, a quoted local part,
    // a display name, a list, a group, a trailing dot): refused before anything is counted or sent.
    const spellings = [`"${local}"@example.com`, `${local}@example.com.`, `${local}(a)@example.com`, `${local}@example.com(b)`, `<${local}@example.com>c`, `x,${local}@example.com`, `g:${local}@example.com;`, `${local}..x@example.com`];
    await mailFor(open, `${local}@example.com`);
    const sent = sink.messages.length;
    for (const spelling of spellings) {
      const answer = await requestSignUp(open, spelling, nextAddress());
      assert.equal(answer.response.status, 400, spelling);
      assert.match(answer.html, /Enter your email address\./);
    }
    await mailFor(open, `${local}@example.com`);
    assert.equal(sink.messages.length, sent, 'nothing was mailed for them');
  });

  test('a name with invisible or text-direction characters is refused like an empty one', async () => {
    const email = newEmail();
    const link = await linkFor(open, email);
    const answer = await complete(open, link, { name: 'adm\u202Enimda\u200B', password: PASSWORD }, nextAddress());
    assert.equal(answer.response.status, 400);
    assert.match(answer.html, /Enter your name/);
    assert.equal(await accountOf(open, email), undefined);
  });

  test('an invitation gives roles; one bound to an address refuses another on the form', async () => {
    const email = newEmail();
    const { token } = await open.services.signUps.invite({ email, roles: ['editor'], ttlSeconds: 3600, createdBy: 'test' });
    const other = await requestSignUp(open, newEmail(), nextAddress(), { invite: token });
    assert.equal(other.response.status, 400);
    assert.match(other.html, /This invitation is for another address\./);
    const link = await linkFor(open, email, { invite: token });
    assert.equal((await complete(open, link, { name: 'Invited', password: PASSWORD }, nextAddress())).response.status, 201);
    assert.deepEqual((await accountOf(open, email))!.roles, ['editor']);
  });

  test('the login page in invite mode and with sign-up off offers no "Create an account"', async () => {
    for (const server of [invite, off]) {
      const jar = new CookieJar();
      const request = authorizationRequest(server.issuer, { client_id: APP, redirect_uri: REDIRECT });
      const start = await send(jar, request.url, { headers: headers('10.31.0.1') });
      const login = await getPage(jar, new URL(start.headers.get('location')!, server.issuer), '10.31.0.1');
      assert.match(login.html, /action="\/interaction\/[^"]+\/login"/);
      assert.doesNotMatch(login.html, /Create an account/);
      const uid = /action="\/interaction\/([^"]+)\/login"/.exec(login.html)![1]!;
      assert.equal((await getPage(jar, new URL(`/interaction/${uid}/signup`, server.issuer), '10.31.0.1')).response.status, 404);
    }
  });
});

describe('sign-up by invitation (REGISTRATION=invite)', () => {
  test('without an invitation: the page says so and nothing is mailed', async () => {
    const email = newEmail();
    const ip = nextAddress();
    const jar = new CookieJar();
    const page = await getPage(jar, new URL('/signup', invite.issuer), ip);
    assert.equal(page.response.status, 403);
    assert.match(page.html, /Sign-up is by invitation/);
    // A form posted anyway (the cookie's CSRF token from another of our forms) is refused the same way.
    const withInvite = await getPage(jar, new URL(`/signup?invite=${'A'.repeat(43)}`, invite.issuer), ip);
    assert.equal(withInvite.response.status, 400, 'an unknown invitation');
    assert.match(withInvite.html, /This invitation no longer works/);
    const { token } = await invite.services.signUps.invite({ ttlSeconds: 3600, createdBy: 'test' });
    const form = await getPage(jar, new URL(`/signup?invite=${token}`, invite.issuer), ip);
    const posted = await post(jar, new URL('/signup', invite.issuer), { csrf: csrfToken(form.html), email }, ip);
    assert.equal(posted.response.status, 403);
    assert.equal((await mailFor(invite, email)).length, 0);
  });

  test('an invitation makes one account: the second sign-up through it is refused at its link', async () => {
    const { token } = await invite.services.signUps.invite({ roles: ['viewer'], ttlSeconds: 3600, createdBy: 'test' });
    const [first, second] = [newEmail(), newEmail()];
    const firstLink = await linkFor(invite, first, { invite: token });
    const secondLink = await linkFor(invite, second, { invite: token });
    assert.equal((await complete(invite, firstLink, { name: 'First', password: PASSWORD }, nextAddress())).response.status, 201);
    const refused = await complete(invite, secondLink, { name: 'Second', password: PASSWORD }, nextAddress());
    assert.equal(refused.response.status, 400);
    assert.match(refused.html, /This invitation no longer works/);
    assert.equal(await accountOf(invite, second), undefined);
    assert.deepEqual((await accountOf(invite, first))!.roles, ['viewer']);
    // Spent: its page says so.
    const page = await getPage(new CookieJar(), new URL(`/signup?invite=${token}`, invite.issuer), nextAddress());
    assert.equal(page.response.status, 400);
    // The refused link can never make an account: it is spent at once (no more hashing through it).
    assert.equal((await getPage(new CookieJar(), secondLink, nextAddress())).response.status, 400);
    const { rows } = await invite.database.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM invitations WHERE token_hash IS NOT NULL AND account_id IS NOT NULL`);
    assert.equal(rows[0]!.n, 1, 'one invitation made one account');
  });

  test('an expired invitation opens nothing', async () => {
    const { token } = await invite.services.signUps.invite({ ttlSeconds: 3600, createdBy: 'test' });
    await invite.database.pool.query(`UPDATE invitations SET expires_at = now() - interval '1 second' WHERE account_id IS NULL`);
    const page = await getPage(new CookieJar(), new URL(`/signup?invite=${token}`, invite.issuer), nextAddress());
    assert.equal(page.response.status, 400);
  });
});

describe('sign-up turned invite-only after links were mailed', { skip: TEST_ENGINE !== 'postgres' && 'two instances of one deployment need Postgres' }, () => {
  test('a link mailed while sign-up was open, without an invitation, makes nothing; one with an invitation still does', async () => {
    const later = await startTestServer(env('invite'), { declare, sameDatabaseAs: open });
    try {
      const plain = await linkFor(open, newEmail());
      const page = await getPage(new CookieJar(), new URL(`${plain.pathname}${plain.search}`, later.issuer), nextAddress());
      assert.equal(page.response.status, 400);
      assert.match(page.html, /This link no longer works/);
      const jar = new CookieJar();
      const opened = await getPage(jar, plain, nextAddress());
      const ip = nextAddress();
      // Its form, opened before the switch, posted after it.
      const refused = await post(jar, new URL('/signup/complete', later.issuer), { csrf: csrfToken(opened.html), token: plain.searchParams.get('token')!, name: 'Too Late', password: PASSWORD }, ip);
      assert.equal(refused.response.status, 400);
      assert.equal((await getPage(new CookieJar(), plain, nextAddress())).response.status, 400, 'spent, even where sign-up is still open');
      const invitedEmail = newEmail();
      const { token } = await open.services.signUps.invite({ ttlSeconds: 3600, createdBy: 'test' });
      const invited = await linkFor(open, invitedEmail, { invite: token });
      assert.equal((await complete(later, new URL(`${invited.pathname}${invited.search}`, later.issuer), { name: 'Invited', password: PASSWORD }, nextAddress())).response.status, 201);
    } finally {
      await later.close();
    }
  });
});

describe('sign-up off (the default)', () => {
  test('its pages do not exist', async () => {
    for (const path of ['/signup', '/signup/complete']) {
      const page = await getPage(new CookieJar(), new URL(path, off.issuer), '10.31.0.2');
      assert.equal(page.response.status, 404, path);
    }
  });
});
