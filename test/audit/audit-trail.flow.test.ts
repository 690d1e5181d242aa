import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import * as oidc from 'openid-client';

import { createAuditWriter } from '../../src/audit/index.ts';
import { createDatabase } from '../../src/db/index.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { confirmLogout, runBrowser, type CookieJar } from '../helpers/browserless-login.ts';
import { runCli, spawnCli, type CliEnvironment } from '../helpers/run-cli.ts';
import { TEST_ENGINE } from '../helpers/test-database.ts';
import { testEventType } from '../helpers/test-event-type.ts';
import { startTestServer, TEST_MASTER_SECRET, type TestServer } from '../helpers/test-server.ts';

// The audit trail of one complete scenario (login, consent, token, refresh, reuse,
// revocation, logout), read back the way an operator reads it: `portcullis events`.

const REDIRECT = 'http://localhost:8080/callback';
const LOGOUT_REDIRECT = 'http://localhost:8080/signed-out';
const EMAIL = 'grace@example.com';
const PASSWORD = 'audit trail password 42';
const insecure = { execute: [oidc.allowInsecureRequests] };

interface Event {
  id: string;
  time: string;
  type: string;
  actor: string | null;
  accountId: string | null;
  clientId: string | null;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  data: Record<string, unknown>;
}

let server: TestServer;
let cli: CliEnvironment;
let dataDir: string;
let accountId: string;
let clientId: string;
let clientSecret: string;
const spareGrantId = `spare-grant-${Date.now()}`;
const secrets: string[] = [PASSWORD, TEST_MASTER_SECRET];

async function events(...args: string[]): Promise<Event[]> {
  const result = await runCli(cli, ['events', '--json', ...args]);
  assert.equal(result.code, 0, `portcullis events ${args.join(' ')} failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as Event[];
}

async function codeFlow(configuration: oidc.Configuration, jar?: CookieJar) {
  const verifier = oidc.randomPKCECodeVerifier();
  const url = oidc.buildAuthorizationUrl(configuration, {
    redirect_uri: REDIRECT,
    scope: 'openid email offline_access',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    prompt: 'consent',
  });
  const browser = await runBrowser(url, { email: EMAIL, password: PASSWORD, ...(jar && { jar }) });
  secrets.push(browser.url.searchParams.get('code')!);
  const tokens = await oidc.authorizationCodeGrant(configuration, browser.url, { pkceCodeVerifier: verifier, expectedState: oidc.skipStateCheck });
  secrets.push(tokens.access_token, tokens.refresh_token!, tokens.id_token!);
  return { tokens, browser };
}

before(async () => {
  // No grace window: the second use of a rotated refresh token is reuse, at once.
  server = await startTestServer({ REFRESH_GRACE_SECONDS: '0' });
  dataDir = await mkdtemp(join(tmpdir(), 'portcullis-audit-'));
  cli = {
    databaseUrl: server.database.testDatabase.url,
    poolMax: server.database.testDatabase.poolMax,
    masterSecret: TEST_MASTER_SECRET,
    dataDir,
    issuer: server.issuer,
  };
  accountId = (await server.services.accounts.create({ email: EMAIL, name: 'Grace Hopper', password: PASSWORD })).id;
  const web = await server.services.clients.create({
    type: 'web',
    name: 'Audited app',
    redirectUris: [REDIRECT],
    postLogoutRedirectUris: [LOGOUT_REDIRECT],
    scopes: ['openid', 'email', 'offline_access'],
  });
  clientId = web.client.clientId;
  clientSecret = web.clientSecret!;
  secrets.push(clientSecret);
  const configuration = await oidc.discovery(new URL(server.issuer), clientId, undefined, oidc.ClientSecretBasic(clientSecret), insecure);

  // 1. A wrong password, then a login with consent and a code exchange.
  const failed = await runBrowser(
    oidc.buildAuthorizationUrl(configuration, {
      redirect_uri: REDIRECT,
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    }),
    { email: EMAIL, password: 'not the password at all' },
  );
  assert.deepEqual(failed.pages, ['login', 'login-failed']);
  const first = await codeFlow(configuration);
  // 2. A refresh, then the rotated refresh token presented again: reuse.
  const refreshed = await oidc.refreshTokenGrant(configuration, first.tokens.refresh_token!);
  secrets.push(refreshed.access_token, refreshed.refresh_token!);
  await assert.rejects(oidc.refreshTokenGrant(configuration, first.tokens.refresh_token!), (error: oidc.ResponseBodyError) => error.error === 'invalid_grant');
  // 3. A new grant in the same browser session, revoked by the client.
  const second = await codeFlow(configuration, first.browser.jar);
  await oidc.tokenRevocation(configuration, second.tokens.refresh_token!);
  // 4. Logout from that session.
  const done = await confirmLogout(
    first.browser.jar,
    oidc.buildEndSessionUrl(configuration, { id_token_hint: second.tokens.id_token!, post_logout_redirect_uri: LOGOUT_REDIRECT }),
  );
  assert.equal(done.status, 303);

  // A grant for the CLI to revoke (the scenario's own are all revoked by now), stored as
  // the engine stores one.
  await server.database.prisma.oidcGrant.create({
    data: { id: spareGrantId, accountId, clientId, payload: { accountId, clientId, openid: { scope: 'openid' } } },
  });

  // The events are buffered: write them, then free the database for the CLI (the embedded
  // database serves one connection at a time).
  await server.auditWriter.flush();
  await server.database.close();
});

after(async () => {
  await server?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('the event trail of a complete scenario, read back with `portcullis events --json`', () => {
  test('holds every step in order: login, consent, tokens, refresh, reuse, revocation, logout', async () => {
    const trail = (await events('--limit', '1000')).filter((event) => !event.type.startsWith('key.'));
    const steps = trail.map((event) => {
      const detail = event.data.grantType ?? event.data.reason ?? event.data.tokenType;
      return typeof detail === 'string' ? `${event.type}:${detail}` : event.type;
    });
    const expected = [
      'user.created',
      'client.created',
      'login.failure:invalid_credentials',
      'login.success',
      'consent.granted',
      'token.issued:authorization_code',
      'token.issued:refresh_token',
      'token.refresh_reuse_detected',
      'grant.revoked:refresh_token_reuse',
      'consent.granted',
      'token.issued:authorization_code',
      'grant.revoked:revocation',
      'token.revoked:RefreshToken',
      'logout',
    ];
    // Each expected step appears, in this order (other events may sit between them).
    let position = 0;
    for (const step of expected) {
      const found = steps.indexOf(step, position);
      assert.ok(found >= 0, `expected ${step} after position ${position} in:\n${steps.join('\n')}`);
      position = found + 1;
    }
  });

  test('every event of a request names the account, the client, the IP, the user agent and the request id', async () => {
    const trail = await events('--type', 'token.issued', '--limit', '1000');
    assert.ok(trail.length >= 3);
    for (const event of trail) {
      assert.equal(event.accountId, accountId);
      assert.equal(event.clientId, clientId);
      assert.equal(event.actor, clientId);
      assert.match(event.ip ?? '', /127\.0\.0\.1/);
      assert.ok(event.userAgent, 'the user agent is kept');
      assert.match(event.requestId ?? '', /^[\w.:-]{8,}$/);
      assert.ok(!Number.isNaN(Date.parse(event.time)));
    }
    const issued = trail.find((event) => event.data.grantType === 'authorization_code')!;
    assert.equal(issued.data.scope, 'openid email offline_access');
    assert.equal(issued.data.refreshTokenIssued, true);
    assert.equal(typeof issued.data.grantId, 'string');
  });

  test('the reuse event and the revocation it caused name the same grant', async () => {
    const [reuse] = await events('--type', 'token.refresh_reuse_detected');
    const revoked = (await events('--type', 'grant.revoked')).find((event) => event.data.reason === 'refresh_token_reuse');
    assert.ok(reuse && revoked);
    assert.equal(reuse.data.grantId, revoked.data.grantId);
    assert.equal(revoked.accountId, accountId);
  });

  test('no event holds a password, a secret, a code or a token', async () => {
    const result = await runCli(cli, ['events', '--json', '--limit', '10000']);
    for (const secret of secrets) assert.ok(!result.stdout.includes(secret), `the trail holds a secret: ${secret.slice(0, 6)}…`);
  });

  test('filters by type family, account (id or email), client, time and count', async () => {
    const logins = await events('--type', 'login.*');
    assert.deepEqual(logins.map((event) => event.type).sort(), ['login.failure', 'login.success']);
    const byEmail = await events('--account', EMAIL, '--limit', '1000');
    const byId = await events('--account', accountId, '--limit', '1000');
    assert.deepEqual(byEmail, byId);
    // The wrong password typed for this account is among its events: guessing at it shows.
    const guesses = await events('--account', EMAIL, '--type', 'login.failure');
    assert.equal(guesses.length, 1);
    assert.equal(guesses[0]!.data.reason, 'invalid_credentials');
    assert.ok(byId.every((event) => event.accountId === accountId));
    const byClient = await events('--client', clientId, '--limit', '1000');
    assert.ok(byClient.length > 5 && byClient.every((event) => event.clientId === clientId));
    assert.deepEqual(await events('--since', '2999-01-01'), []);
    assert.ok((await events('--since', '1h')).length > 5);
    const lastTwo = await events('--limit', '2');
    assert.equal(lastTwo.length, 2);
    assert.equal(lastTwo[1]!.type, (await events('--limit', '1'))[0]!.type, 'the newest events, oldest first');
  });

  test('prints one readable line per event without --json', async () => {
    const result = await runCli(cli, ['events', '--type', 'token.issued', '--limit', '1']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^\d{4}-\d\d-\d\dT[\d:.]+Z {2}token\.issued +actor=\S+ account=\S+ client=\S+ ip=\S+ .*grantType=authorization_code .*request=\S+\n$/);
  });

  test('refuses a bad --since or --limit with exit status 2 and one line', async () => {
    for (const args of [['--since', 'yesterday'], ['--limit', '0']]) {
      const result = await runCli(cli, ['events', ...args]);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr.trim(), /^portcullis: [^\n]+$/);
    }
  });

  test('records what the CLI changes, with actor "cli" and the operator\'s OS user and host', async () => {
    const since = new Date(Date.now() - 1_000).toISOString();
    const created = await runCli(cli, ['clients', 'create', '--type', 'service', '--name', 'Batch', '--json']);
    assert.equal(created.code, 0, created.stderr);
    const { client_id: batchId } = JSON.parse(created.stdout) as { client_id: string };
    const grant = { id: spareGrantId };
    for (const args of [
      ['clients', 'rotate-secret', batchId],
      ['revoke', '--client', batchId],
      ['clients', 'delete', batchId],
      ['revoke', '--grant', grant.id],
      ['revoke', '--user', EMAIL],
      ['users', 'disable', EMAIL],
    ]) {
      const result = await runCli(cli, args);
      assert.equal(result.code, 0, `portcullis ${args.join(' ')}: ${result.stderr}`);
    }
    const trail = await events('--since', since, '--limit', '100');
    const mine = trail.filter(
      (event) => event.clientId === batchId || (event.accountId === accountId && (event.type.startsWith('user.') || event.type === 'grant.revoked')),
    );
    assert.deepEqual(
      mine.map((event) => [event.type, event.actor]),
      [
        ['client.created', 'cli'],
        ['client.secret_rotated', 'cli'],
        ['client.tokens_revoked', 'cli'],
        ['client.deleted', 'cli'],
        ['grant.revoked', 'cli'],
        ['user.tokens_revoked', 'cli'],
        ['user.disabled', 'cli'],
      ],
    );
    for (const event of mine) {
      assert.equal(event.data.osUser, userInfo().username, event.type);
      assert.equal(event.data.host, hostname(), event.type);
    }
    const line = await runCli(cli, ['events', '--type', 'user.disabled', '--limit', '1']);
    // (jsonb keeps its keys in its own order.)
    assert.match(line.stdout, /user\.disabled +actor=cli account=\S+ /);
    assert.ok(line.stdout.includes(` osUser=${userInfo().username}`) && line.stdout.includes(` host=${hostname()}`), line.stdout);
    const revoked = mine.find((event) => event.type === 'grant.revoked');
    assert.equal(revoked?.data.grantId, grant.id);
    assert.equal(revoked?.data.reason, 'operator');
  });

  test('--follow prints events as they are recorded, one JSON object per line', { skip: TEST_ENGINE === 'embedded' && 'the embedded database serves one connection, and the follower holds it' }, async () => {
    const follower = spawnCli(cli, ['events', '--follow', '--json', '--type', 'test.*', '--limit', '1']);
    let stdout = '';
    let stderr = '';
    follower.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    follower.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    try {
      const writerDb = createDatabase({ url: cli.databaseUrl, poolMax: 2 });
      const writer = createAuditWriter({ sql: writerDb.pool, logger: createLogger({ level: 'silent' }) });
      const started = Date.now() + 30_000;
      while (!stderr.includes('following new events') && Date.now() < started) await new Promise((resolve) => setTimeout(resolve, 50));
      writer.record({ type: testEventType('test.followed'), actor: 'system', data: { n: 1 } });
      writer.record({ type: testEventType('test.followed'), actor: 'system', data: { n: 2 } });
      writer.record({ type: testEventType('other.ignored'), actor: 'system' });
      await writer.close();
      await writerDb.close();
      const deadline = Date.now() + 10_000;
      while (stdout.split('\n').filter(Boolean).length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
      const lines = stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Event);
      assert.deepEqual(lines.map((event) => [event.type, event.data.n]), [
        ['test.followed', 1],
        ['test.followed', 2],
      ]);
    } finally {
      follower.kill('SIGINT');
      const code = await new Promise<number | null>((resolve) => follower.once('close', resolve));
      assert.equal(code, 0, 'Ctrl-C ends --follow cleanly');
    }
  });
});
