import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import * as oidc from 'openid-client';

import { authorizationRequest, CookieJar, csrfToken, runBrowser, send } from '../helpers/browserless-login.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// A session that ends while a request of its browser is in flight stays ended (found by an
// attacker's pass, kept as its proofs of concept). The "in flight" moment is made
// deterministic by a trap on the pool: right after a request of the browser loaded its
// session row (the adapter's find), the ending runs, then the request goes on.

const REDIRECT = 'http://localhost:8080/callback';
const PASSWORD = 'a long and correct password';
const appId = 'race-app';
const FIND_SESSION = 'SELECT payload, expires_at FROM oidc_sessions WHERE id = $1';

let server: TestServer;
let app: oidc.Configuration;
let people = 0;

before(async () => {
  server = await startTestServer({}, {
    declare: { clients: [{ type: 'web', clientId: appId, name: 'Race App', redirectUris: [REDIRECT], scopes: ['openid', 'email', 'offline_access'] }] },
  });
  app = await oidc.discovery(new URL(server.issuer), appId, undefined, oidc.ClientSecretBasic(server.declared.clientSecret(appId)), { execute: [oidc.allowInsecureRequests] });
});
after(async () => {
  await server?.close();
});

type Query = (...args: unknown[]) => Promise<unknown>;
/** Runs `onLoaded` once (or `times`) right after a request loaded a session row by id. */
function trapSessionLoad(onLoaded: () => Promise<void>, times = 1): () => void {
  const pool = server.database.pool as unknown as { query: Query };
  const original = pool.query;
  let armed = times;
  pool.query = async function (this: unknown, ...args: unknown[]) {
    const result = await original.apply(this, args);
    const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string } | undefined)?.text;
    if (armed > 0 && typeof text === 'string' && text.startsWith(FIND_SESSION)) {
      armed -= 1;
      await onLoaded();
    }
    return result;
  };
  return () => {
    pool.query = original;
  };
}

async function newPerson() {
  const email = `race${++people}-${Date.now()}@example.com`;
  const created = await server.services.accounts.create({ email, name: `Race ${people}`, password: PASSWORD });
  return { email, password: PASSWORD, id: created.id, jar: new CookieJar() };
}

async function signIn(who: { email: string; jar: CookieJar }, params: Record<string, string> = {}) {
  const request = authorizationRequest(server.issuer, { client_id: appId, redirect_uri: REDIRECT, scope: 'openid email', ...params });
  const result = await runBrowser(request.url, { jar: who.jar, email: who.email, password: PASSWORD });
  return oidc.authorizationCodeGrant(app, result.url, { pkceCodeVerifier: request.verifier, expectedState: request.state });
}

async function stillSignedIn(jar: CookieJar): Promise<boolean> {
  const request = authorizationRequest(server.issuer, { client_id: appId, redirect_uri: REDIRECT, prompt: 'none' });
  const { url } = await runBrowser(request.url, { jar });
  if (url.searchParams.get('code')) return true;
  assert.equal(url.searchParams.get('error'), 'login_required', url.href);
  return false;
}

/** A prompt=none authorization, its redirects followed within the issuer: where it ended, and the code if one came back. */
async function silently(jar: CookieJar): Promise<{ status: number; code: string | null }> {
  const request = authorizationRequest(server.issuer, { client_id: appId, redirect_uri: REDIRECT, prompt: 'none' });
  let url = request.url;
  let response = await send(jar, url);
  for (let step = 0; step < 10 && response.status >= 300 && response.status < 400; step++) {
    url = new URL(response.headers.get('location')!, url);
    if (url.origin !== new URL(server.issuer).origin) return { status: response.status, code: url.searchParams.get('code') };
    response = await send(jar, url);
  }
  await response.arrayBuffer();
  return { status: response.status, code: null };
}

/** Drives an authorization with prompt=consent up to the engine's resume URL (consent given), not following it. */
async function upToResume(jar: CookieJar): Promise<{ resume: URL; verifier: string; state: string }> {
  const request = authorizationRequest(server.issuer, { client_id: appId, redirect_uri: REDIRECT, scope: 'openid email', prompt: 'consent' });
  let url = request.url;
  let response = await send(jar, url);
  for (let step = 0; step < 10 && response.status >= 300 && response.status < 400; step++) {
    url = new URL(response.headers.get('location')!, url);
    response = await send(jar, url);
  }
  const html = await response.text();
  const confirm = /action="(\/interaction\/[^"]+\/confirm)"/.exec(html)?.[1];
  assert.ok(confirm, `a consent page: ${html.slice(0, 300)}`);
  const posted = await send(jar, new URL(confirm, url), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrf: csrfToken(html) }).toString(),
  });
  const resume = new URL(posted.headers.get('location')!, url);
  assert.match(resume.pathname, /^\/auth\//, `the resume: ${resume.href}`);
  return { resume, verifier: request.verifier, state: request.state };
}

const uids = async (accountId: string) => (await server.services.grants.listSessions(accountId)).map((session) => session.id);

describe('a session ended while a request of its browser is in flight', () => {
  test('a plain request (prompt=none) that loaded it does not save it back, and delivers no code', async () => {
    const who = await newPerson();
    // Offline access remembered: the in-flight request could make a new grant from it.
    await signIn(who, { scope: 'openid email offline_access', prompt: 'consent' });
    const [uid] = await uids(who.id);
    assert.ok(uid);
    let fired = false;
    const release = trapSessionLoad(async () => {
      assert.equal((await server.services.grants.endSession(who.id, uid)).ended, true);
      fired = true;
    });
    let answer: { status: number; code: string | null };
    try {
      answer = await silently(who.jar.copy());
    } finally {
      release();
    }
    assert.ok(fired, 'the session ended while the request had it loaded');
    // Told the session is over (a 4xx page), never a code made after the sign-out.
    assert.equal(answer.code, null);
    assert.equal(answer.status, 400);
    assert.deepEqual(await uids(who.id), [], 'no live session');
    assert.equal(await stillSignedIn(who.jar), false);
  });

  for (const [how, end] of [
    ['an operator signs that browser out', async (id: string, uid: string) => assert.equal((await server.services.grants.endSession(id, uid)).ended, true)],
    ['every session of the account ends (sign-out, password reset, disabling)', async (id: string) => void (await server.services.grants.revokeAccount(id))],
  ] as const) {
    test(`${how}: a consent resuming in flight does not carry it on under a new id`, async () => {
      const who = await newPerson();
      await signIn(who);
      const [uid] = await uids(who.id);
      assert.ok(uid);
      const { resume } = await upToResume(who.jar);
      // The resume loads the session; at that moment the session is ended.
      let fired = false;
      const release = trapSessionLoad(async () => {
        await end(who.id, uid);
        fired = true;
      });
      let answer: Response;
      try {
        answer = await send(who.jar, resume);
      } finally {
        release();
      }
      assert.ok(fired, 'the session ended while the resume had it loaded');
      // Refused as a session not found (a 4xx page), never a code for the client.
      assert.equal(answer.status, 400, `${answer.status} ${answer.headers.get('location') ?? ''}`);
      assert.deepEqual(await uids(who.id), [], 'no live session');
      assert.equal(await stillSignedIn(who.jar), false, 'the browser must sign in again');
      assert.ok(!server.logs().includes('oidc_sessions_uid_key'), 'no database error');
    });
  }
});

describe('two tabs of one browser resuming at once', () => {
  test('both loaded the session before either saved: one goes on, the other is told to sign in again, never a 5xx', async () => {
    const who = await newPerson();
    await signIn(who);
    const tabA = who.jar.copy();
    const tabB = who.jar.copy();
    const a = await upToResume(tabA);
    const b = await upToResume(tabB);
    // A barrier: the first load waits until the second request loaded the session too.
    let open: () => void = () => {};
    const bothLoaded = new Promise<void>((resolve) => (open = resolve));
    let loads = 0;
    const release = trapSessionLoad(async () => {
      loads += 1;
      if (loads === 2) open();
      await Promise.race([bothLoaded, new Promise((resolve) => setTimeout(resolve, 3000))]);
    }, 2);
    let answers: Response[];
    try {
      answers = await Promise.all([send(tabA, a.resume), send(tabB, b.resume)]);
    } finally {
      release();
    }
    assert.equal(loads, 2);
    const statuses = answers.map((answer) => answer.status);
    assert.ok(statuses.every((status) => status < 500), `no 5xx: ${statuses.join(', ')}`);
    assert.equal((await uids(who.id)).length, 1, 'one session lives on');
  });
});
