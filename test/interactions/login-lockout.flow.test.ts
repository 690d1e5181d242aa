import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';

import { openLoginForm, type LoginForm } from '../helpers/abuse.ts';
import { send } from '../helpers/browserless-login.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// The login form's answers over HTTP, as a browser sends them (Sec-Fetch-Mode: navigate):
// a refused POST is a 303 to the interaction's page (Post/Redirect/Get), which shows the
// outcome once; a lockout says when to try again and offers the form. (In Chromium, with
// Back and reload: test/interactions/pages-accessibility.e2e.test.ts.)

const REDIRECT = 'http://localhost:8080/callback';
const EMAIL = 'kim@example.com';
const PASSWORD = 'a long and correct password';

let server: TestServer;
let client: { clientId: string; redirectUri: string };

before(async () => {
  server = await startTestServer({ TRUST_PROXY: 'true', AUTH_THROTTLE_FREE_FAILURES: '1', AUTH_THROTTLE_BLOCK_AFTER: '2' });
  await server.services.accounts.create({ email: EMAIL, name: 'Kim', password: PASSWORD });
  const created = await server.services.clients.create({ type: 'web', name: 'Lockout App', redirectUris: [REDIRECT] });
  client = { clientId: created.client.clientId, redirectUri: REDIRECT };
});

after(async () => {
  await server?.close();
});

/**
 * The form posted as a browser navigation. node:http, since fetch sets Sec-Fetch-Mode
 * itself (cors); the answer is handed back as a Response, its cookies stored in the jar.
 */
function navigate(form: LoginForm, password: string, ip: string): Promise<Response> {
  const body = new URLSearchParams({ csrf: form.csrf, email: EMAIL, password }).toString();
  const headers = {
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'text/html',
    'sec-fetch-mode': 'navigate',
    'sec-fetch-dest': 'document',
    'x-forwarded-for': ip,
    cookie: form.jar.header(),
  };
  return new Promise((resolve, reject) => {
    const sent = request(form.action, { method: 'POST', headers }, (incoming) => {
      const chunks: Buffer[] = [];
      incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
      incoming.on('end', () => {
        const pairs: [string, string][] = [];
        for (const [name, value] of Object.entries(incoming.headers)) {
          for (const item of Array.isArray(value) ? value : [value ?? '']) pairs.push([name, item]);
        }
        const response = new Response(Buffer.concat(chunks).toString('utf8'), { status: incoming.statusCode ?? 0, headers: pairs });
        form.jar.store(response);
        resolve(response);
      });
    });
    sent.on('error', reject);
    sent.end(body);
  });
}

const page = (form: LoginForm, ip: string) => send(form.jar, new URL(form.action.pathname.replace(/\/login$/, ''), form.action), { headers: { accept: 'text/html', 'x-forwarded-for': ip } });

describe('the login form, Post/Redirect/Get', () => {
  test('a wrong password: 303 to the page, which shows the message and the email once', async () => {
    const ip = '192.0.2.10';
    const form = await openLoginForm(server.issuer, client, ip);
    const posted = await navigate(form, 'wrong', ip);
    assert.equal(posted.status, 303);
    assert.equal(new URL(posted.headers.get('location')!, server.issuer).pathname, form.action.pathname.replace(/\/login$/, ''));
    assert.doesNotMatch(await posted.text(), /<form|<html/, 'no page from the POST');

    const shown = await page(form, ip);
    assert.equal(shown.status, 401);
    const html = await shown.text();
    assert.match(html, /<span>Email or password is incorrect\.<\/span>/);
    assert.ok(html.includes(`value="${EMAIL}"`), 'the email is kept');
    const again = await page(form, ip);
    assert.equal(again.status, 200, 'shown once: a reload is the plain form');
    assert.doesNotMatch(await again.text(), /role="alert"/);
  });

  test('a lockout: 303, then the page with when to try again, Retry-After and the form', async () => {
    const ip = '192.0.2.20';
    const form = await openLoginForm(server.issuer, client, ip);
    await (await navigate(form, 'wrong once', ip)).body?.cancel();
    await (await page(form, ip)).body?.cancel();
    const refused = await navigate(form, PASSWORD, ip);
    assert.equal(refused.status, 303, 'refused unchecked, answered with a redirect');
    assert.equal(refused.headers.get('retry-after'), null);

    const shown = await page(form, ip);
    assert.equal(shown.status, 429);
    const wait = Number(shown.headers.get('retry-after'));
    assert.ok(wait >= 1 && wait <= 60, `Retry-After ${wait}`);
    const html = await shown.text();
    const message = /<div class="alert" role="alert" id="login-error">[^]*?<span>([^<]+)<\/span>/.exec(html)?.[1];
    assert.match(message ?? '', /^Too many failed sign-ins(?: for this account from this browser| for this account from your network)?\. You can try again at (\d\d:\d\d) UTC \(in (\d+) seconds?\)\.$/);
    const [, clock] = /at (\d\d:\d\d) UTC/.exec(message!)!;
    const expected = new Date(Date.now() + wait * 1000).toISOString().slice(11, 16);
    const expectedEarlier = new Date(Date.now() + wait * 1000 - 60_000).toISOString().slice(11, 16);
    assert.ok(clock === expected || clock === expectedEarlier, `the time to try again: ${clock}, about ${expected}`);
    assert.match(html, /<form class="stack" method="post" action="\/interaction\/[^"]+\/login">/, 'the form again');
    assert.match(html, /<input id="password" name="password" type="password"/);
  });

  test('a script (no Sec-Fetch-Mode) keeps the direct answer: 401, or a 429 in JSON when it asks for JSON', async () => {
    const ip = '192.0.2.30';
    const form = await openLoginForm(server.issuer, client, ip);
    const post = (password: string, accept: string) =>
      send(form.jar, form.action, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept, 'x-forwarded-for': ip },
        body: new URLSearchParams({ csrf: form.csrf, email: EMAIL, password }).toString(),
      });
    const wrong = await post('wrong', 'text/html');
    assert.equal(wrong.status, 401);
    await wrong.body?.cancel();
    const refused = await post(PASSWORD, 'application/json');
    assert.equal(refused.status, 429);
    assert.ok(Number(refused.headers.get('retry-after')) >= 1);
    const body = (await refused.json()) as { error: string; error_description: string };
    assert.equal(body.error, 'too_many_requests');
    assert.match(body.error_description, /^Too many failed sign-ins.*You can try again at \d\d:\d\d UTC/);
  });
});
