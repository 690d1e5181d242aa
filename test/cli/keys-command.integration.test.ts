import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { createSealer } from '../../src/crypto/index.ts';
import { createDatabase } from '../../src/db/index.ts';
import { loadKeyMaterial } from '../../src/oidc/index.ts';
import { spawn } from 'node:child_process';

import { cliEnv, PORTCULLIS_BIN, PROJECT_ROOT, settle } from '../helpers/run-cli.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.ts';

// `portcullis keys` as an operator runs it: list, announce, and every refusal as one line
// with exit status 2 and nothing changed; what it changes is audited with the operator.
// One command at a time: the embedded test database serves one connection.

const SECRET = 'keys-command-test-master-secret-0123456789';
// A new key signs 45 s after it is announced (a command takes one to ten seconds on a loaded machine).
const ENV = { JWKS_MAX_AGE: '2', KEY_REFRESH_INTERVAL: '1', KEY_ANNOUNCE_DELAY: '45' };

let database: TestDatabase;
let dataDir: string;

function cli(args: string[]) {
  const env = cliEnv({ databaseUrl: database.url, poolMax: database.poolMax, masterSecret: SECRET, dataDir }, ENV);
  return settle(spawn(process.execPath, [PORTCULLIS_BIN, ...args], { cwd: PROJECT_ROOT, env }));
}

async function withDatabase<T>(work: (db: ReturnType<typeof createDatabase>) => Promise<T>): Promise<T> {
  const db = createDatabase({ url: database.url, poolMax: 1 });
  try {
    return await work(db);
  } finally {
    await db.close();
  }
}

interface Listed {
  kid: string;
  alg: string | null;
  use: string;
  status: string;
  signsFrom: string;
  retirableAt: string | null;
}
async function list(): Promise<Listed[]> {
  const result = await cli(['--json', 'keys', 'list']);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as Listed[];
}

function refused(result: { code: number | null; stdout: string; stderr: string }, pattern: RegExp) {
  assert.equal(result.code, 2, result.stderr);
  assert.equal(result.stdout, '');
  assert.match(result.stderr, /^portcullis: [^\n]+\n$/);
  assert.match(result.stderr, pattern);
}

before(async () => {
  database = await createTestDatabase();
  dataDir = await mkdtemp(join(tmpdir(), 'portcullis-keys-'));
  // The keys a server's first start creates (and the CLI's migrate the schema first).
  assert.equal((await cli(['migrate'])).code, 0);
  await withDatabase((db) => loadKeyMaterial(db.prisma, createSealer(SECRET), { lifetimeSeconds: () => 600, marginSeconds: 1 }));
});
after(async () => {
  await database?.destroy();
  await rm(dataDir, { recursive: true, force: true });
});

test('keys list shows every key signing, with its algorithm, use and times', async () => {
  const human = await cli(['keys', 'list']);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /^KID\s+ALG\s+USE\s+STATUS\s+CREATED\s+SIGNS FROM\s+RETIRABLE AT\n/);
  const keys = await list();
  assert.deepEqual(keys.map((key) => [key.alg, key.use, key.status]).sort(), [
    ['ES256', 'sig', 'signing'],
    ['RS256', 'sig', 'signing'],
    [null, 'cookie', 'signing'],
  ].sort());
});

test('rotate announces, retire refuses what would break tokens, and every change is audited', async () => {
  const before = await list();
  const oldEs = before.find((key) => key.alg === 'ES256')!;

  refused(await cli(['keys', 'rotate', '--alg', 'HS256']), /--alg.*HS256.*must be one of RS256, ES256/);
  refused(await cli(['keys', 'retire', '--', oldEs.kid]), /is the current ES256 signing key; rotate first/);
  refused(await cli(['keys', 'retire', 'no-such-kid']), /no key no-such-kid/);
  assert.equal((await list()).length, before.length, 'a refused command stores nothing');
  const rotated = await cli(['keys', 'rotate', '--alg', 'ES256', '--cookie']);
  assert.equal(rotated.code, 0, rotated.stderr);
  assert.match(rotated.stdout, /^Announced ES256 key \S+: published now, signs from \S+\nAnnounced cookie key cookie-\d+: verifies now, signs from \S+\n$/);
  const announced = (await list()).filter((key) => key.status === 'announced');
  assert.deepEqual(announced.map((key) => key.alg).sort(), ['ES256', null].sort());

  refused(await cli(['keys', 'rotate', '--alg', 'ES256']), /ES256 already has an announced key/);

  // Once the new key signs, the old one is retiring: refused until its tokens expired.
  await sleep(Math.max(0, Date.parse(announced[0]!.signsFrom) - Date.now()) + 500);
  const retiring = (await list()).find((key) => key.kid === oldEs.kid)!;
  assert.equal(retiring.status, 'retiring');
  assert.ok(retiring.retirableAt);
  refused(await cli(['keys', 'retire', '--', oldEs.kid]), /may still have signed valid tokens until .*--force/);
  const forced = await cli(['keys', 'retire', '--force', '--', oldEs.kid]);
  assert.equal(forced.code, 0, forced.stderr);
  assert.equal(forced.stdout, `Retired signing key ${oldEs.kid}: no longer published\n`);
  refused(await cli(['keys', 'retire', '--', oldEs.kid]), /already retired/);
  assert.equal((await list()).some((key) => key.kid === oldEs.kid), false, 'list leaves retired keys out unless --all');

  const events = await withDatabase((db) => db.prisma.auditEvent.findMany({ where: { type: { in: ['key.created', 'key.retired'] }, actor: 'cli' }, orderBy: { id: 'asc' } }));
  assert.deepEqual(
    events.map((event) => [event.type, (event.data as { use: string }).use, (event.data as { forced?: boolean }).forced ?? null, typeof (event.data as { osUser?: string }).osUser]),
    [
      ['key.created', 'signing', null, 'string'],
      ['key.created', 'cookie', null, 'string'],
      ['key.retired', 'signing', true, 'string'],
    ],
  );
});
