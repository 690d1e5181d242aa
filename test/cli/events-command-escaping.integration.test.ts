import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { createMigratedDatabase } from '../helpers/test-database.ts';
import { runCli, type CliEnvironment } from '../helpers/run-cli.ts';
import { formatEvent } from '../../src/cli/events-command.ts';

// `portcullis events` shows text an attacker chose (a user agent, a client id a stranger
// sent, an email typed into the login form). A terminal obeys escape sequences in it: an
// ESC [2K CR erases the line it is on, a right-to-left override reorders what follows, so
// a forged event could hide or disguise the lines around it. Human output escapes every
// control character; --json stays the exact stored text, as JSON.

const HOSTILE_AGENT = 'curl/8 \x1b[2K\rlooks-innocent \u202egnp.exe';
const HOSTILE_EMAIL = 'eve\x1b]0;title\x07@example.com\x9b31m\x7f\u2066';

let database: Awaited<ReturnType<typeof createMigratedDatabase>>;
let cli: CliEnvironment;
let dataDir: string;

before(async () => {
  database = await createMigratedDatabase();
  await database.prisma.auditEvent.create({
    data: {
      type: 'login.failure',
      actor: 'eve\x1b[8m',
      ip: '203.0.113.9',
      userAgent: HOSTILE_AGENT,
      requestId: 'req-1',
      data: { reason: 'unknown_account', email: HOSTILE_EMAIL },
    },
  });
  // Free the connection for the CLI (the embedded database serves one at a time).
  await database.close();
  dataDir = await mkdtemp(join(tmpdir(), 'portcullis-events-'));
  cli = {
    databaseUrl: database.testDatabase.url,
    poolMax: database.testDatabase.poolMax,
    masterSecret: 'events-test-master-secret-of-at-least-32-characters',
    dataDir,
  };
});

after(async () => {
  await database?.testDatabase.destroy();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** C0, DEL, C1 and the bidirectional formatting characters a terminal acts on. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const TERMINAL_CONTROLS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

test('events prints attacker-supplied text with every control character escaped, on one line', async () => {
  const result = await runCli(cli, ['events', '--type', 'login.*']);
  assert.equal(result.code, 0, result.stderr);
  const output = result.stdout;
  assert.equal(output.split('\n').length, 2, 'exactly one line, and its newline');
  assert.doesNotMatch(output.trimEnd(), TERMINAL_CONTROLS, 'no control character reaches the terminal');
  // What was there is still readable, escaped.
  assert.ok(output.includes('ua="curl/8 \\u001b[2K\\rlooks-innocent \\u202egnp.exe"'), output);
  assert.ok(output.includes('email="eve\\u001b]0;title\\u0007@example.com\\u009b31m\\u007f\\u2066"'), output);
  assert.ok(output.includes('actor="eve\\u001b[8m"'), output);
});

test('events --json prints the stored text exactly', async () => {
  const result = await runCli(cli, ['events', '--json', '--type', 'login.*']);
  assert.equal(result.code, 0, result.stderr);
  const [event] = JSON.parse(result.stdout) as { userAgent: string; actor: string; data: { email: string } }[];
  assert.equal(event?.userAgent, HOSTILE_AGENT);
  assert.equal(event?.actor, 'eve\x1b[8m');
  assert.equal(event?.data.email, HOSTILE_EMAIL);
});

test('a value without controls, spaces, quotes or backslashes is printed bare, anything else quoted', () => {
  const line = formatEvent({
    id: '1',
    time: '2026-12-01T00:00:00.000Z',
    type: 'token.issued',
    actor: 'app',
    accountId: null,
    clientId: 'app',
    ip: '127.0.0.1',
    userAgent: null,
    requestId: null,
    data: { scope: 'read write', note: 'back\\slash', quote: 'a"b' },
  });
  assert.equal(line, '2026-12-01T00:00:00.000Z  token.issued                  actor=app client=app ip=127.0.0.1 scope="read write" note="back\\\\slash" quote="a\\"b"');
});
