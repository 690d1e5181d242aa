import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import * as oidc from 'openid-client';
import { Secret, TOTP } from 'otpauth';

import { CookieJar, csrfToken, openPage, submitForm } from '../helpers/browserless-login.ts';
import { runCli, type CliEnvironment } from '../helpers/run-cli.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.ts';
import {
  ACR_MFA,
  ACR_PWD,
  APP,
  atCallback,
  declaration,
  discover,
  formAction,
  idTokenClaims,
  keyOf,
  PASSWORD,
  post,
  proveMailbox,
  start,
  STEP_MS,
  STRICT_APP,
  type Flow,
} from '../helpers/second-factor-pages.ts';
import { startTestServer, TEST_MASTER_SECRET, type TestServer } from '../helpers/test-server.ts';

// Two-step sign-in over real HTTP, as an attacker would try it: wrong, replayed and
// drifted codes, a burst of one code, spent recovery codes, a code page reached without the
// password; and as people use it: enrolment with the QR page, step-up by acr_values,
// MFA=required, an operator's reset. The codes are checked against a clock the test
// holds (the server's `clock`), so drift is exact to the step.

let now = Date.parse('2026-12-05T12:00:10Z');
const clock = () => now;
let people = 0;

const codeAt = (secret: string, steps = 0) => TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: now + steps * STEP_MS });
const declare = (server: TestServer) => discover(server, APP);
const strictApp = (server: TestServer) => discover(server, STRICT_APP);

async function newPerson(server: TestServer): Promise<{ id: string; email: string }> {
  const email = `mfa${++people}@example.com`;
  const account = await server.services.accounts.create({ email, name: `Person ${people}`, password: PASSWORD });
  return { id: account.id, email };
}

/** A person with a confirmed authenticator: its secret and recovery codes. */
async function enrolledPerson(server: TestServer) {
  const person = await newPerson(server);
  const enrolment = await server.services.secondFactors.startEnrolment(person, 'test');
  assert.ok(enrolment);
  const recoveryCodes = await server.services.secondFactors.confirmEnrolment(person.id, 'test', enrolment.sealed, codeAt(enrolment.secret, -1));
  assert.ok(recoveryCodes);
  return { ...person, secret: enrolment.secret, recoveryCodes };
}

/** A sign-in at its code page: the right password was given. */
async function atCodePage(server: TestServer, email: string, params: Record<string, string> = {}): Promise<Flow> {
  const flow = await start(server, params);
  await post(flow, 'login', { email, password: PASSWORD });
  assert.ok(formAction(flow.page.html, 'code'), `the code page follows the password: ${flow.page.html.slice(0, 400)}`);
  assert.ok(!flow.page.html.includes(PASSWORD));
  return flow;
}

describe('MFA=optional', () => {
  let server: TestServer;
  let sink: SmtpSink;
  let app: oidc.Configuration;

  before(async () => {
    sink = await startSmtpSink();
    server = await startTestServer({ TRUST_PROXY: 'true', RATE_LIMIT_LOGIN: '6000/1m', SMTP_URL: sink.url }, { declare: declaration, clock });
    app = await declare(server);
  });
  after(async () => {
    await server?.close();
    await sink?.close();
  });

  test('discovery advertises the password and the MFA acr values', async () => {
    const metadata = (await (await fetch(new URL('/.well-known/openid-configuration', server.issuer))).json()) as { acr_values_supported?: string[] };
    assert.deepEqual(metadata.acr_values_supported, [ACR_PWD, ACR_MFA]);
  });

  test('a person without an authenticator signs in with the password alone: acr pwd, amr [pwd]', async () => {
    const person = await newPerson(server);
    const flow = await start(server);
    await post(flow, 'login', { email: person.email, password: PASSWORD });
    const claims = await idTokenClaims(app, flow);
    assert.equal(claims.acr, ACR_PWD);
    assert.deepEqual(claims.amr, ['pwd']);
  });

  test('enrolment at a client that requires MFA: QR code and key, a wrong code refused, the right one shows ten recovery codes once, and the ID token says mfa', async () => {
    const person = await newPerson(server);
    const flow = await start(server, { client_id: STRICT_APP });
    await post(flow, 'login', { email: person.email, password: PASSWORD });
    await proveMailbox(server, sink, flow, person.email);
    const csp = flow.page.response.headers.get('content-security-policy') ?? '';
    assert.ok(!csp.includes('unsafe-inline'), csp);
    assert.match(flow.page.html, /<figure class="qr" role="img" aria-label="[^"]+"><svg/);
    assert.ok(!/<script(?![^>]*nonce=)/.test(flow.page.html), 'no script without a nonce');
    const key = keyOf(flow.page.html);
    assert.ok(key && key.length === 32, 'a 160-bit key to type');
    // A reload shows the same secret (a scanned QR code stays good).
    const again = await openPage(flow.jar, flow.page.url);
    assert.ok(again.html.includes(/id="totp-key">([^<]+)</.exec(flow.page.html)![1]!));
    // Nothing is stored before the first code: the sign-in keeps its secret, sealed.
    const before = await server.database.pool.query('SELECT 1 FROM totp_factors WHERE account_id = $1', [person.id]);
    assert.equal(before.rows.length, 0);

    const wrong = await post(flow, 'enrol', { code: codeAt(key, 3) });
    assert.equal(wrong.response.status, 401);
    assert.ok(formAction(wrong.html, 'enrol'), 'the enrolment page again');
    const shown = await post(flow, 'enrol', { code: codeAt(key) });
    const codes = [...shown.html.matchAll(/<li><code>([0-9a-z-]+)<\/code><\/li>/g)].map((match) => match[1]!);
    assert.equal(codes.length, 10);
    assert.equal(new Set(codes).size, 10);
    const stored = await server.database.pool.query<{ code_hash: string }>('SELECT code_hash FROM recovery_codes WHERE account_id = $1', [person.id]);
    assert.equal(stored.rows.length, 10);
    // The secret is sealed at rest.
    const { rows } = await server.database.pool.query<{ secret_sealed: string }>('SELECT secret_sealed FROM totp_factors WHERE account_id = $1', [person.id]);
    assert.ok(rows[0] && !rows[0].secret_sealed.includes(key) && rows[0].secret_sealed.startsWith('v1.'));
    for (const code of codes) assert.ok(!stored.rows.some((row) => row.code_hash.includes(code)), 'codes are stored hashed');
    await post(flow, 'continue', {});
    const claims = await idTokenClaims(await strictApp(server), flow);
    assert.equal(claims.acr, ACR_MFA);
    assert.deepEqual(claims.amr, ['pwd', 'otp', 'mfa']);
    assert.equal(await server.services.secondFactors.state(person.id), 'confirmed');
  });

  test('an enrolled person is asked for a code: a wrong one is refused with one message, the right one signs in with acr mfa', async () => {
    const person = await enrolledPerson(server);
    const flow = await atCodePage(server, person.email);
    const wrong = await post(flow, 'code', { code: codeAt(person.secret, 5) });
    assert.equal(wrong.response.status, 401);
    assert.match(wrong.html, /role="alert" id="code-error"/);
    assert.match(wrong.html, /aria-invalid="true"/);
    await post(flow, 'code', { code: codeAt(person.secret) });
    const claims = await idTokenClaims(app, flow);
    assert.equal(claims.acr, ACR_MFA);
    assert.deepEqual(claims.amr, ['pwd', 'otp', 'mfa']);
  });

  test('a code is accepted once: replayed in another sign-in it is refused', async () => {
    const person = await enrolledPerson(server);
    const first = await atCodePage(server, person.email);
    const code = codeAt(person.secret, 1);
    await post(first, 'code', { code });
    assert.ok(await atCallback(first));
    const replay = await atCodePage(server, person.email);
    assert.equal((await post(replay, 'code', { code })).response.status, 401);
    // An earlier step than the one spent is refused too.
    assert.equal((await post(replay, 'code', { code: codeAt(person.secret, 0) })).response.status, 401);
  });

  test('a concurrent burst of one code: exactly one sign-in wins', async () => {
    const person = await enrolledPerson(server);
    const flows = await Promise.all(Array.from({ length: 8 }, () => atCodePage(server, person.email)));
    const code = codeAt(person.secret);
    const statuses = await Promise.all(
      flows.map(async (flow) => {
        const url = new URL(formAction(flow.page.html, 'code')!, flow.page.url);
        const response = await submitForm(flow.jar, url, { csrf: csrfToken(flow.page.html), code });
        await response.body?.cancel();
        // A finished sign-in goes back to the engine's authorization endpoint.
        return response.status === 303 && response.headers.get('location')?.includes('/auth/') ? 'signed in' : response.status;
      }),
    );
    // The rest are refused: as wrong codes (401), or by the throttle's limit on attempts in flight (429).
    assert.equal(statuses.filter((status) => status === 'signed in').length, 1, `one wins: ${statuses.join(',')}`);
    assert.ok(statuses.every((status) => status === 'signed in' || status === 401 || status === 429), statuses.join(','));
  });

  test('clock drift: codes one step early or late are accepted, two steps are refused', async () => {
    const person = await enrolledPerson(server);
    for (const steps of [-2, 2]) {
      const flow = await atCodePage(server, person.email);
      assert.equal((await post(flow, 'code', { code: codeAt(person.secret, steps) })).response.status, 401, `${steps} steps refused`);
    }
    // The enrolment spent step -1; the next steps are still good.
    now += STEP_MS;
    for (const steps of [-1, 1]) {
      const flow = await atCodePage(server, person.email);
      await post(flow, 'code', { code: codeAt(person.secret, steps) });
      assert.ok(await atCallback(flow), `${steps} step accepted`);
    }
  });

  test('a recovery code stands in for the code once, typed in any case with or without dashes; a burst of one wins once', async () => {
    const person = await enrolledPerson(server);
    const [first, second] = person.recoveryCodes;
    const flow = await atCodePage(server, person.email);
    await post(flow, 'code', { code: first!.toUpperCase().replaceAll('-', ' ') });
    const claims = await idTokenClaims(app, flow);
    assert.equal(claims.acr, ACR_MFA);
    const again = await atCodePage(server, person.email);
    assert.equal((await post(again, 'code', { code: first! })).response.status, 401, 'spent');

    const flows = await Promise.all(Array.from({ length: 6 }, () => atCodePage(server, person.email)));
    const statuses = await Promise.all(
      flows.map(async (burst) => {
        const url = new URL(formAction(burst.page.html, 'code')!, burst.page.url);
        const response = await submitForm(burst.jar, url, { csrf: csrfToken(burst.page.html), code: second! });
        await response.body?.cancel();
        // A finished sign-in goes back to the engine's authorization endpoint.
        return response.status === 303 && response.headers.get('location')?.includes('/auth/') ? 'signed in' : response.status;
      }),
    );
    assert.equal(statuses.filter((status) => status === 'signed in').length, 1, `one wins: ${statuses.join(',')}`);
    assert.ok(statuses.every((status) => status === 'signed in' || status === 401 || status === 429), statuses.join(','));
  });

  test('the code page without the password: a posted code leads back to the password form, never to a login', async () => {
    const person = await enrolledPerson(server);
    const flow = await start(server);
    const url = new URL(formAction(flow.page.html, 'login')!.replace(/login$/, 'code'), flow.page.url);
    const response = await submitForm(flow.jar, url, { csrf: csrfToken(flow.page.html), code: codeAt(person.secret) });
    assert.equal(response.status, 303);
    await response.body?.cancel();
    const page = await openPage(flow.jar, new URL(response.headers.get('location')!, url));
    assert.ok(formAction(page.html, 'login'), 'the password form');
    // A pending sign-in cookie of another interaction is worthless here.
    const other = await atCodePage(server, person.email);
    const pending = other.jar.get('portcullis.pending-login');
    const signature = other.jar.get('portcullis.pending-login.sig');
    assert.ok(pending && signature);
    flow.jar.set('portcullis.pending-login', pending);
    flow.jar.set('portcullis.pending-login.sig', signature);
    const stolen = await submitForm(flow.jar, url, { csrf: csrfToken(flow.page.html), code: codeAt(person.secret) });
    assert.equal(stolen.status, 303);
    assert.ok(!stolen.headers.get('location')?.includes('/auth/'), 'no login finished');
    await stolen.body?.cancel();
  });

  test('step-up: acr_values asking for mfa over a password-only session asks only for the code', async () => {
    const person = await newPerson(server);
    const jar = new CookieJar();
    const first = await start(server, {}, jar);
    await post(first, 'login', { email: person.email, password: PASSWORD });
    assert.equal((await idTokenClaims(app, first)).acr, ACR_PWD);
    const enrolment = await server.services.secondFactors.startEnrolment(person, 'test');
    assert.ok(enrolment);
    await server.services.secondFactors.confirmEnrolment(person.id, 'test', enrolment.sealed, codeAt(enrolment.secret));
    // Without acr_values the session stands (single sign-on, no page).
    const sso = await start(server, {}, jar);
    assert.ok(await atCallback(sso));
    // With it: the code page, no password form.
    const stepUp = await start(server, { acr_values: ACR_MFA }, jar);
    assert.ok(formAction(stepUp.page.html, 'code'), `the code page: ${stepUp.page.html.slice(0, 300)}`);
    assert.ok(!formAction(stepUp.page.html, 'login'));
    await post(stepUp, 'code', { code: codeAt(enrolment.secret, 1) });
    const claims = await idTokenClaims(app, stepUp);
    assert.equal(claims.acr, ACR_MFA);
    assert.deepEqual(claims.amr, ['pwd', 'otp', 'mfa']);
  });

  test('a client registered to require MFA: a password-only session must give the password again, set up and use a second factor there', async () => {
    const person = await newPerson(server);
    const jar = new CookieJar();
    const first = await start(server, {}, jar);
    await post(first, 'login', { email: person.email, password: PASSWORD });
    assert.equal((await idTokenClaims(app, first)).acr, ACR_PWD);
    // Setting one up needs the password again: a session alone never enrols (F3).
    const strict = await start(server, { client_id: STRICT_APP }, jar);
    assert.ok(formAction(strict.page.html, 'login'), `the password form first: ${strict.page.html.slice(0, 300)}`);
    await post(strict, 'login', { email: person.email, password: PASSWORD });
    await proveMailbox(server, sink, strict, person.email);
    assert.ok(formAction(strict.page.html, 'enrol'), `then the enrolment page: ${strict.page.html.slice(0, 300)}`);
    const key = keyOf(strict.page.html)!;
    await post(strict, 'enrol', { code: codeAt(key) });
    await post(strict, 'continue', {});
    const claims = await idTokenClaims(await strictApp(server), strict);
    assert.equal(claims.acr, ACR_MFA);
    assert.deepEqual(claims.amr, ['pwd', 'otp', 'mfa']);
  });

  test('wrong codes count as failed sign-ins for the account: the throttle slows them as it slows passwords', async () => {
    const person = await enrolledPerson(server);
    const flow = await atCodePage(server, person.email);
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 12 && !statuses.includes(429); attempt++) {
      const url = new URL(`/interaction/${/\/interaction\/([^/]+)\//.exec(formAction(flow.page.html, 'code') ?? formAction(flow.page.html, 'abort')!)![1]}/code`, flow.page.url);
      const response = await submitForm(flow.jar, url, { csrf: csrfToken(flow.page.html), code: '000000' });
      statuses.push(response.status);
      flow.page = { response, url, html: await response.text() };
    }
    assert.ok(statuses.includes(429), `refused as too many: ${statuses.join(',')}`);
    assert.ok(statuses.filter((status) => status === 401).length >= 1);
  });
});

describe('MFA=required', () => {
  let server: TestServer;
  let sink: SmtpSink;
  let app: oidc.Configuration;

  before(async () => {
    sink = await startSmtpSink();
    server = await startTestServer({ MFA: 'required', TRUST_PROXY: 'true', RATE_LIMIT_LOGIN: '6000/1m', SMTP_URL: sink.url }, { declare: declaration, clock });
    app = await declare(server);
  });
  after(async () => {
    await server?.close();
    await sink?.close();
  });

  test('a person without an authenticator proves the mailbox, enrols during the sign-in, and cannot skip it', async () => {
    const person = await newPerson(server);
    const flow = await start(server);
    await post(flow, 'login', { email: person.email, password: PASSWORD });
    await proveMailbox(server, sink, flow, person.email);
    assert.ok(formAction(flow.page.html, 'enrol'), 'the enrolment page');
    // Skipping to the end without a confirmed code leads back, not to a login.
    const skip = await submitForm(flow.jar, new URL(formAction(flow.page.html, 'enrol')!.replace(/enrol$/, 'continue'), flow.page.url), { csrf: csrfToken(flow.page.html) });
    assert.equal(skip.status, 303);
    assert.ok(!skip.headers.get('location')?.includes('/auth/'));
    await skip.body?.cancel();
    const key = keyOf(flow.page.html)!;
    await post(flow, 'enrol', { code: codeAt(key) });
    await post(flow, 'continue', {});
    const claims = await idTokenClaims(app, flow);
    assert.equal(claims.acr, ACR_MFA);
    assert.deepEqual(claims.amr, ['pwd', 'otp', 'mfa']);
  });
});

describe('an operator resets a person\'s factors', () => {
  let first: TestServer;
  let second: TestServer | undefined;
  let dataDir: string;

  before(async () => {
    first = await startTestServer({}, { declare: declaration, clock });
    dataDir = await mkdtemp(join(tmpdir(), 'portcullis-mfa-'));
  });
  after(async () => {
    await second?.close();
    await first?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('portcullis users reset-factors <email> removes the authenticator and the codes, audited; the person then signs in with the password alone', async () => {
    const person = await enrolledPerson(first);
    // Signed in with the factor about to be reset (a stolen phone): that session must end too.
    const firstApp = await discover(first, APP);
    const thief = await start(first);
    await post(thief, 'login', { email: person.email, password: PASSWORD });
    await post(thief, 'code', { code: codeAt(person.secret) });
    assert.equal((await idTokenClaims(firstApp, thief)).acr, ACR_MFA);
    const cli: CliEnvironment = { databaseUrl: first.database.testDatabase.url, poolMax: first.database.testDatabase.poolMax, masterSecret: TEST_MASTER_SECRET, dataDir, issuer: first.issuer };
    // The embedded database serves one connection at a time: the server lets go of it for the CLI.
    await first.auditWriter.flush();
    await first.database.close();
    const result = await runCli(cli, ['users', 'reset-factors', person.email]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Removed the second factors of mfa\d+@example\.com/);
    const unknown = await runCli(cli, ['users', 'reset-factors', 'nobody@example.com']);
    assert.notEqual(unknown.code, 0, 'an unknown account is an error');

    second = await startTestServer({}, { sameDatabaseAs: first, clock });
    assert.equal(await second.services.secondFactors.state(person.id), 'none');
    const { rows } = await second.database.pool.query<{ actor: string; data: { removed: boolean } }>(`SELECT actor, data FROM audit_events WHERE account_id = $1 AND type = 'mfa.reset'`, [person.id]);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.actor, 'cli');
    assert.equal(rows[0]!.data.removed, true);
    const revoked = await second.database.pool.query<{ actor: string }>(`SELECT actor FROM audit_events WHERE account_id = $1 AND type = 'user.tokens_revoked'`, [person.id]);
    assert.equal(revoked.rows.length, 1, 'every session, grant and token ended');
    // The session signed in before the reset no longer signs anyone in.
    const afterReset = await start(second, {}, thief.jar);
    assert.ok(formAction(afterReset.page.html, 'login'), `the password form, not the callback: ${afterReset.page.url.href}`);
    const app = await oidc.discovery(new URL(second.issuer), APP, undefined, oidc.ClientSecretBasic(first.declared.clientSecret(APP)), { execute: [oidc.allowInsecureRequests] });
    const flow = await start(second);
    await post(flow, 'login', { email: person.email, password: PASSWORD });
    const claims = await idTokenClaims(app, flow);
    assert.equal(claims.acr, ACR_PWD);
    assert.deepEqual(claims.amr, ['pwd']);
  });
});
