import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { runCli, type CliEnvironment, type CliResult } from '../helpers/run-cli.ts';
import { startTestServer, TEST_MASTER_SECRET, type TestServer } from '../helpers/test-server.ts';

// `portcullis registration-tokens` as an operator runs it, against the database a server
// with CLIENT_REGISTRATION=initial-access-token serves: a token minted by the CLI registers
// a client over HTTP, and the CLI shows that client as registered. The embedded test
// database serves one connection at a time: the server lets go of it while a command runs,
// and a second server on the same database answers after.

const REDIRECT = 'http://localhost:8080/callback';
const ENV = { LOG_LEVEL: 'warn', CLIENT_REGISTRATION: 'initial-access-token', RATE_LIMIT_REGISTRATION: '1000/1h' };

let first: TestServer | undefined;
let second: TestServer | undefined;
let dataDir: string;
let target: CliEnvironment;

async function cli(...args: string[]): Promise<CliResult> {
  return runCli(target, args);
}

async function json<T>(...args: string[]): Promise<T> {
  const result = await cli('--json', ...args);
  assert.equal(result.code, 0, `portcullis ${args.join(' ')}: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

interface TokenView {
  id: string;
  token?: string;
  uses: number;
  usesLeft: number;
  state: string;
  expiresAt: string;
  label: string | null;
}

let minted: TokenView;
let registered: { client_id: string };

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'portcullis-dcr-cli-'));
  first = await startTestServer(ENV);
  target = { databaseUrl: first.database.testDatabase.url, poolMax: first.database.testDatabase.poolMax, masterSecret: TEST_MASTER_SECRET, dataDir, issuer: first.issuer };
  // Free the database for the CLI (the embedded one serves one connection at a time).
  await first.database.close();
  minted = await json<TokenView>('registration-tokens', 'create', '--expires-in', '2h', '--uses', '2', '--label', 'for the partner team');
  second = await startTestServer(ENV, { sameDatabaseAs: first });
  // The database is now served under the second server's address; the CLI names it as that.
  target = { ...target, issuer: second.issuer };
  const response = await fetch(`${second.issuer}/reg`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${minted.token ?? ''}` },
    body: JSON.stringify({ client_name: 'Partner App', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], scope: 'openid' }),
  });
  assert.equal(response.status, 201, await response.clone().text());
  registered = (await response.json()) as { client_id: string };
  await second.auditWriter.flush();
  await second.database.close();
});

after(async () => {
  await second?.close();
  await first?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('portcullis registration-tokens', () => {
  test('create prints the token once, with its id, uses and expiry; list shows what is left of it, never its value', async () => {
    assert.match(minted.token ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.equal(minted.uses, 2);
    assert.equal(minted.label, 'for the partner team');
    const hours = (Date.parse(minted.expiresAt) - Date.now()) / 3_600_000;
    assert.ok(hours > 1.9 && hours <= 2, `expires in ${hours} h`);
    const listed = await json<TokenView[]>('registration-tokens', 'list');
    const row = listed.find((token) => token.id === minted.id);
    assert.ok(row);
    assert.equal(row.usesLeft, 1, 'the registration spent one use');
    assert.equal(row.state, 'active');
    assert.equal(JSON.stringify(listed).includes(minted.token!), false, 'list never shows a value');
  });

  test('clients list and show mark the client that registered itself, with the token it used', async () => {
    const clients = await json<{ clientId: string; origin: string; registrationTokenId: string | null }[]>('clients', 'list');
    const client = clients.find((entry) => entry.clientId === registered.client_id);
    assert.equal(client?.origin, 'registration');
    assert.equal(client?.registrationTokenId, minted.id);
    const table = await cli('clients', 'list');
    assert.match(table.stdout, new RegExp(`${registered.client_id}.*registration`));
    const shown = await cli('clients', 'show', registered.client_id);
    assert.equal(shown.code, 0);
    assert.match(shown.stdout, new RegExp(`registered itself \\(initial access token ${minted.id}\\)`));
  });

  test('revoke ends the token (list says so) and is audited by id, never by value', async () => {
    const revoked = await json<TokenView>('registration-tokens', 'revoke', minted.id);
    assert.equal(revoked.state, 'revoked');
    const listed = await json<TokenView[]>('registration-tokens', 'list');
    assert.equal(listed.find((token) => token.id === minted.id)?.state, 'revoked');
    const events = await json<{ type: string; data: Record<string, unknown> }[]>('events', '--limit', '100');
    const types = events.map((event) => event.type);
    assert.ok(types.includes('registration_token.created'));
    assert.ok(types.includes('registration_token.revoked'));
    assert.ok(types.includes('client.registered'));
    assert.equal(JSON.stringify(events).includes(minted.token!), false);
    assert.equal(events.find((event) => event.type === 'registration_token.created')?.data.id, minted.id);
  });

  test('bad flags and unknown ids are bad input (exit 2), one line each, nothing minted', async () => {
    const before = (await json<TokenView[]>('registration-tokens', 'list')).length;
    for (const args of [
      ['registration-tokens', 'create', '--expires-in', 'soon'],
      ['registration-tokens', 'create', '--expires-in', '10s'],
      ['registration-tokens', 'create', '--expires-in', '400d'],
      ['registration-tokens', 'create', '--uses', '0'],
      ['registration-tokens', 'create', '--uses', 'many'],
      ['registration-tokens', 'revoke', '00000000-0000-4000-8000-000000000000'],
      ['registration-tokens', 'revoke', 'not-an-id'],
    ]) {
      const result = await cli(...args);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, /^portcullis: \S[^\n]*\n$/);
    }
    assert.equal((await json<TokenView[]>('registration-tokens', 'list')).length, before);
  });

  test('the registered client can be deleted by the operator like any other', async () => {
    assert.equal((await cli('clients', 'delete', registered.client_id)).code, 0);
    const clients = await json<{ clientId: string }[]>('clients', 'list');
    assert.equal(clients.some((entry) => entry.clientId === registered.client_id), false);
  });
});
