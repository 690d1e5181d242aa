import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { createDatabase } from '../../src/db/index.ts';
import { cliEnv, PORTCULLIS_BIN, PROJECT_ROOT, settle } from '../helpers/run-cli.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.ts';

// `portcullis users unblock` as an operator runs it: it leaves a release for the servers'
// throttles (test/abuse/unblock.flow.test.ts shows a server applying one) and records who
// did it. One command at a time: the embedded test database serves one connection.

let database: TestDatabase;
let dataDir: string;

function cli(args: string[], input = '') {
  const env = cliEnv({ databaseUrl: database.url, poolMax: database.poolMax, masterSecret: 'unblock-test-master-secret-of-32-characters', dataDir });
  return settle(spawn(process.execPath, [PORTCULLIS_BIN, ...args], { cwd: PROJECT_ROOT, env }), input);
}

async function rows() {
  const db = createDatabase({ url: database.url, poolMax: 1 });
  try {
    const releases = await db.prisma.throttleRelease.findMany({ orderBy: { id: 'asc' } });
    const events = await db.prisma.auditEvent.findMany({ where: { type: 'login.unblocked' }, orderBy: { id: 'asc' } });
    return { releases, events };
  } finally {
    await db.close();
  }
}

before(async () => {
  database = await createTestDatabase();
  dataDir = await mkdtemp(join(tmpdir(), 'portcullis-unblock-'));
  const created = await cli(['users', 'create', '--email', 'Ann@Example.com', '--name', 'Ann'], 'a long enough password\n');
  assert.equal(created.code, 0, created.stderr);
});

after(async () => {
  await database.destroy();
  await rm(dataDir, { recursive: true, force: true });
});

void test('users unblock <email> and --address leave releases for the servers, audited with the operator', async () => {
  const account = await cli(['users', 'unblock', 'ANN@example.com ']);
  assert.equal(account.code, 0, account.stderr);
  assert.equal(account.stdout, 'Lifted the sign-in blocks of ann@example.com on every address; running servers apply it at the next attempt.\n');
  const address = await cli(['users', 'unblock', '--address', '2001:db8::7']);
  assert.equal(address.code, 0, address.stderr);
  assert.equal(address.stdout, 'Lifted the sign-in blocks of the address 2001:db8::7; running servers apply it at its next attempt.\n');

  const { releases, events } = await rows();
  assert.deepEqual(releases.map(({ subject, address }) => ({ subject, address })), [
    { subject: 'ann@example.com', address: null },
    { subject: null, address: '2001:db8::7' },
  ]);
  assert.equal(events.length, 2);
  assert.equal(events[0]!.actor, 'cli');
  assert.ok(events[0]!.accountId);
  assert.deepEqual(events[0]!.data, { scope: 'account', osUser: userInfo().username, host: hostname() });
  assert.equal(events[1]!.ip, '2001:db8::7');
  assert.deepEqual(events[1]!.data, { scope: 'address', osUser: userInfo().username, host: hostname() });
});

void test('users unblock refuses, changing nothing: an unknown account, no target, both targets, an address that is none', async () => {
  const cases: [string[], RegExp][] = [
    [['users', 'unblock', 'nobody@example.com'], /^portcullis: .*nobody@example\.com/],
    [['users', 'unblock'], /^portcullis: give an account \(id or email\) or --address, not neither$/],
    [['users', 'unblock', 'ann@example.com', '--address', '192.0.2.1'], /^portcullis: give an account \(id or email\) or --address, not both$/],
    [['users', 'unblock', '--address', 'example.com'], /^portcullis: --address: example\.com is not an IP address$/],
  ];
  for (const [args, message] of cases) {
    const result = await cli(args);
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr.trim(), message);
  }
  const { releases } = await rows();
  assert.equal(releases.length, 2, 'nothing more was released');
});
