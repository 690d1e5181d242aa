import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { createDatabase, type PrismaClient } from '../../src/db/index.ts';
import { PORTCULLIS_BIN, settle } from '../helpers/run-cli.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.ts';

// The `portcullis` command as an operator runs it: a real process against a fresh
// database. The embedded test database serves one connection at a time, so every
// command runs to its exit (pool closed) before the next starts, and the test's own
// database connection (withPrisma) is open only while no command runs.

const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
const ISSUER = 'http://localhost:3000';
const PASSWORD = 'correct horse battery staple';

let database: TestDatabase;
let dataDir: string;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

async function cli(args: string[], options: { input?: string; env?: Record<string, string> } = {}): Promise<Result> {
  const env: Record<string, string | undefined> = {
    ...process.env,
    DATABASE_URL: database.url,
    DATABASE_POOL_MAX: String(database.poolMax),
    MASTER_SECRET: 'cli-test-master-secret-of-at-least-32-characters',
    DATA_DIR: dataDir,
    ISSUER,
    NODE_ENV: 'test',
    LOG_LEVEL: undefined,
    ...options.env,
  };
  return settle(spawn(process.execPath, [PORTCULLIS_BIN, ...args], { cwd: projectRoot, env }), options.input);
}

/** Runs a command that must succeed and returns its parsed --json output. */
async function json<T = Record<string, unknown>>(args: string[], options?: { input?: string; env?: Record<string, string> }): Promise<T> {
  const result = await cli(['--json', ...args], options);
  assert.equal(result.code, 0, `portcullis ${args.join(' ')} failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

/** A command that must fail as bad input: exit 2 and exactly one line on stderr. */
async function refused(args: string[], options?: { input?: string }): Promise<string> {
  const result = await cli(args, options);
  assert.equal(result.code, 2, `expected exit 2 from portcullis ${args.join(' ')}; stderr: ${result.stderr}`);
  const lines = result.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `expected one line on stderr, got: ${result.stderr}`);
  assert.match(lines[0] ?? '', /^portcullis: \S/);
  return lines[0] ?? '';
}

interface ClientView {
  clientId: string;
  type: string;
  name: string;
  confidential: boolean;
  redirectUris: string[];
  corsOrigins: string[];
  grantTypes: string[];
  scopes: string[];
  resources: string[];
  updatedAt: string;
}

interface Created {
  client_id: string;
  client_secret?: string;
  client: ClientView;
}

/** Runs `use` on a Prisma client of the test database, closed again before it returns. */
async function withPrisma<T>(use: (prisma: PrismaClient) => Promise<T>): Promise<T> {
  const connection = createDatabase({ url: database.url, poolMax: 1 });
  try {
    return await use(connection.prisma);
  } finally {
    await connection.close();
  }
}

/** Everything the CLI can list, to show that a refused command changed nothing. */
async function snapshot() {
  return {
    users: await json<unknown[]>(['users', 'list']),
    clients: await json<unknown[]>(['clients', 'list']),
    resources: await json<unknown[]>(['resources', 'list']),
  };
}

before(async () => {
  database = await createTestDatabase();
  dataDir = await mkdtemp(join(tmpdir(), 'portcullis-cli-'));
});

after(async () => {
  await database.destroy();
  await rm(dataDir, { recursive: true, force: true });
});

void describe('portcullis migrate', () => {
  void test('the first command applies the migrations and migrate then reports the database up to date', async () => {
    const first = await json<{ applied: string[]; total: number }>(['migrate']);
    assert.ok(first.applied.length > 0);
    assert.equal(first.applied.length, first.total);
    const second = await cli(['migrate']);
    assert.equal(second.code, 0);
    assert.match(second.stdout, /up to date/);
  });
});

void describe('portcullis users', () => {
  void test('users create reads the password from stdin and users show never prints it or its hash', async () => {
    const created = await json<{ id: string; email: string; roles: string[]; hasPassword: boolean }>(
      ['users', 'create', '--email', 'Ada@Example.com', '--name', 'Ada Lovelace', '--role', 'admin', '--email-verified'],
      { input: `${PASSWORD}\n` },
    );
    assert.equal(created.email, 'ada@example.com');
    assert.deepEqual(created.roles, ['admin']);
    assert.equal(created.hasPassword, true);

    const shown = await cli(['users', 'show', 'ada@example.com']);
    assert.equal(shown.code, 0);
    assert.match(shown.stdout, /ada@example\.com/);
    assert.match(shown.stdout, /password:\s+set/);
    const byId = await json(['users', 'show', created.id]);
    assert.equal(byId.email, 'ada@example.com');
    for (const output of [shown.stdout, shown.stderr, JSON.stringify(byId)]) {
      assert.doesNotMatch(output, /argon2|passwordHash/);
      assert.ok(!output.includes(PASSWORD));
    }
  });

  void test('creating a second account with the same email exits with 2 and one line naming the email', async () => {
    const line = await refused(['users', 'create', '--email', 'ADA@example.com ', '--name', 'Impostor'], { input: `${PASSWORD}\n` });
    assert.match(line, /ada@example\.com already exists/);
    const users = await json<{ name: string }[]>(['users', 'list']);
    assert.deepEqual(users.map((user) => user.name), ['Ada Lovelace']);
  });

  void test('a password cannot be given as an argument, only on stdin', async () => {
    const flag = await refused(['users', 'create', '--email', 'bob@example.com', '--name', 'Bob', '--password', 'hunter2hunter2'], {
      input: `${PASSWORD}\n`,
    });
    assert.match(flag, /unknown option '--password'/);
    assert.ok(!flag.includes('hunter2hunter2'));
    const positional = await refused(['users', 'create', '--email', 'bob@example.com', '--name', 'Bob', 'hunter2hunter2'], {
      input: `${PASSWORD}\n`,
    });
    assert.ok(!positional.includes('hunter2hunter2'));
    await refused(['users', 'set-password', 'ada@example.com', 'hunter2hunter2']);
    assert.match(await refused(['users', 'create', '--email', 'bob@example.com', '--name', 'Bob']), /password: expected on the first line of stdin/);
    const users = await json<{ email: string }[]>(['users', 'list']);
    assert.deepEqual(users.map((user) => user.email), ['ada@example.com']);
  });

  void test('a user can be disabled, enabled and given a new password from stdin', async () => {
    assert.equal((await json(['users', 'disable', 'ada@example.com'])).disabled, true);
    assert.equal((await json(['users', 'enable', 'ada@example.com'])).disabled, false);
    const changed = await json(['users', 'set-password', 'ada@example.com'], { input: 'another good password\n' });
    assert.equal(changed.hasPassword, true);
    assert.match(await refused(['users', 'set-password', 'ada@example.com'], { input: 'short\n' }), /password: must be at least 8 characters/);
    assert.match(await refused(['users', 'show', 'nobody@example.com']), /no account nobody@example\.com/);
  });

  void test('users invite prints a link once and stores only the hash of its token, bound to an address and roles', async () => {
    const invited = await json<{ link: string; email: string; roles: string[]; expiresAt: string }>(['users', 'invite', '--email', 'Grace@Example.com', '--role', 'editor', '--expires-in-days', '3']);
    const link = new URL(invited.link);
    assert.equal(link.origin + link.pathname, `${ISSUER}/signup`);
    const token = link.searchParams.get('invite') ?? '';
    assert.match(token, /^[\w-]{43}$/);
    assert.equal(invited.email, 'grace@example.com');
    assert.deepEqual(invited.roles, ['editor']);
    const days = (Date.parse(invited.expiresAt) - Date.now()) / 86_400_000;
    assert.ok(days > 2.9 && days <= 3, `expires in ${days} days`);
    const rows = await withPrisma((prisma) => prisma.invitation.findMany());
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.tokenHash, createHash('sha256').update(token).digest('base64url'), 'only the hash is stored');
    assert.equal(rows[0]!.createdBy.startsWith('cli '), true);
    const events = await withPrisma((prisma) => prisma.auditEvent.findMany({ where: { type: 'invitation.created' } }));
    assert.equal(events.length, 1);
    assert.doesNotMatch(JSON.stringify(events[0]!.data), new RegExp(token), 'the audit trail never holds the token');
    assert.equal((events[0]!.data as { email?: string }).email, 'grace@example.com');
    // Plain output says REGISTRATION is off here, where the link cannot be used yet.
    assert.match((await cli(['users', 'invite'])).stdout, /REGISTRATION is off/);
    assert.match(await refused(['users', 'invite', '--expires-in-days', '31']), /from 1 to 30/);
    assert.match(await refused(['users', 'invite', '--email', 'not an address']), /email/);
    assert.match(await refused(['users', 'invite', '--role', 'no spaces allowed']), /role/);
  });
});

void describe('portcullis clients', () => {
  const created = new Map<string, Created>();

  void test('clients create registers each type of client and prints its credentials as JSON', async () => {
    const flags: Record<string, string[]> = {
      web: ['--redirect-uri', 'https://app.example.com/callback', '--post-logout-redirect-uri', 'https://app.example.com/'],
      spa: ['--redirect-uri', 'https://spa.example.com/callback', '--cors-origin', 'https://spa.example.com'],
      native: ['--redirect-uri', 'com.example.app:/callback'],
      service: [],
      'resource-server': [],
    };
    for (const [type, extra] of Object.entries(flags)) {
      const result = await json<Created>(['clients', 'create', '--type', type, '--name', `A ${type} client`, ...extra]);
      assert.equal(result.client.type, type);
      assert.equal(result.client_id, result.client.clientId);
      const confidential = type === 'web' || type === 'service' || type === 'resource-server';
      assert.equal(result.client.confidential, confidential);
      // Generated ids are plain arguments: never read as an option, no `--` needed.
      assert.match(result.client_id, /^[A-Za-z0-9]{20}$/);
      if (confidential) assert.match(result.client_secret ?? '', /^[\w-]{43}$/);
      else assert.equal(result.client_secret, undefined);
      created.set(type, result);
    }
    assert.deepEqual(created.get('service')?.client.grantTypes, ['client_credentials']);
    assert.deepEqual(created.get('resource-server')?.client.grantTypes, []);
    assert.deepEqual(created.get('spa')?.client.corsOrigins, ['https://spa.example.com']);

    const chosen = await cli(['clients', 'create', '--type', 'web', '--name', 'Chosen id', '--id', 'my-web-app', '--redirect-uri', 'http://localhost:8080/callback']);
    assert.equal(chosen.code, 0, chosen.stderr);
    assert.match(chosen.stdout, /client_id:\s+my-web-app/);
    assert.match(chosen.stdout, /client_secret:\s+[\w-]{43}/);
    assert.match(chosen.stdout, /cannot be shown again/);
    assert.match(chosen.stdout, /run `portcullis clients rotate-secret my-web-app`/);
  });

  void test('invalid client input exits with 2 and one line, and leaves the clients unchanged', async () => {
    const before = await json<unknown[]>(['clients', 'list']);
    const cases: [string[], RegExp][] = [
      [['--type', 'web', '--name', 'Bad', '--redirect-uri', 'not a url'], /must be an absolute URL/],
      [['--type', 'web', '--name', 'Bad', '--redirect-uri', 'http://app.example.com/cb'], /http is allowed only for localhost/],
      [['--type', 'web', '--name', 'Bad', '--redirect-uri', 'https://app.example.com/cb', '--grant-type', 'password'], /grantTypes/],
      [['--type', 'web', '--redirect-uri', 'https://app.example.com/cb'], /required option '--name <name>' not specified/],
      [['--type', 'kiosk', '--name', 'Bad'], /Allowed choices are web, spa, native, service, resource-server/],
      [['--type', 'web', '--name', 'Bad'], /needs at least one redirect URI/],
      [['--type', 'web', '--name', 'Taken', '--id', 'my-web-app', '--redirect-uri', 'https://app.example.com/cb'], /already exists/],
      [['--type', 'service', '--name', 'Bad', '--resource', 'https://unknown.example.com'], /not a registered resource server/],
    ];
    for (const [args, message] of cases) assert.match(await refused(['clients', 'create', ...args]), message);
    assert.match(await refused(['clients', 'frobnicate']), /unknown command 'frobnicate'/);
    assert.deepEqual(await json<unknown[]>(['clients', 'list']), before);
  });

  void test('rotate-secret prints a new secret once, and show never prints one', async () => {
    const web = created.get('web');
    assert.ok(web?.client_secret);
    const rotated = await json<Created>(['clients', 'rotate-secret', web.client_id]);
    assert.match(rotated.client_secret ?? '', /^[\w-]{43}$/);
    assert.notEqual(rotated.client_secret, web.client_secret);

    const shown = await cli(['clients', 'show', web.client_id]);
    const shownJson = await json(['clients', 'show', web.client_id]);
    for (const output of [shown.stdout, JSON.stringify(shownJson)]) {
      assert.ok(!output.includes(rotated.client_secret ?? ''));
      assert.ok(!output.includes(web.client_secret));
      // No secret field (the method's name, client_secret_basic, may be shown).
      assert.doesNotMatch(output, /secretCiphertext|"client_secret"\s*:|client_secret:\s/);
    }
    const spa = created.get('spa');
    assert.ok(spa);
    assert.match(await refused(['clients', 'rotate-secret', spa.client_id]), /public and has no secret/);
  });

  void test('update replaces each list given and keeps everything else', async () => {
    const spa = created.get('spa');
    assert.ok(spa);
    const updated = await json<ClientView>([
      'clients', 'update',
      '--redirect-uri', 'https://spa.example.com/a',
      '--redirect-uri', 'https://spa.example.com/b',
      '--scope', 'openid profile',
      spa.client_id,
    ]);
    assert.deepEqual(updated.redirectUris, ['https://spa.example.com/a', 'https://spa.example.com/b']);
    assert.deepEqual(updated.scopes, ['openid', 'profile']);
    assert.deepEqual(updated.corsOrigins, ['https://spa.example.com']);
    assert.equal(updated.name, 'A spa client');
    assert.match(await refused(['clients', 'update', '--redirect-uri', 'https://spa.example.com/c#frag', spa.client_id]), /fragment/);
    assert.match(await refused(['clients', 'update', 'no-such-client', '--name', 'X']), /no client no-such-client/);
  });

  void test('delete removes a client', async () => {
    const native = created.get('native');
    assert.ok(native);
    const deleted = await cli(['clients', 'delete', '--', native.client_id]);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.match(await refused(['clients', 'show', '--', native.client_id]), /no client/);
    const clients = await json<ClientView[]>(['clients', 'list']);
    assert.ok(!clients.some((client) => client.clientId === native.client_id));
  });
});

void describe('portcullis resources', () => {
  void test('resources create, list and update manage a resource server and its scopes', async () => {
    const created = await json<{ indicator: string; scopes: { name: string; description: string }[]; accessTokenTtl: number }>([
      'resources', 'create',
      '--indicator', 'https://photos.example.com',
      '--name', 'Photos',
      '--scope', 'photos:read=Look at your photos',
      '--scope', 'photos:write',
      '--scope', 'photos.admin=Manage = everything',
      '--ttl', '900',
    ]);
    assert.deepEqual(created.scopes, [
      { name: 'photos.admin', description: 'Manage = everything', roles: [] },
      { name: 'photos:read', description: 'Look at your photos', roles: [] },
      { name: 'photos:write', description: '', roles: [] },
    ]);
    assert.equal(created.accessTokenTtl, 900);

    const listed = await cli(['resources', 'list']);
    assert.match(listed.stdout, /https:\/\/photos\.example\.com\s+Photos\s+jwt\s+900\s+ES256\s+photos\.admin, photos:read, photos:write/);

    const updated = await json<{ name: string; accessTokenFormat: string; accessTokenTtl: number; scopes: { name: string }[] }>([
      'resources', 'update', 'https://photos.example.com', '--name', 'Photo library', '--format', 'opaque', '--scope', 'photos:read',
    ]);
    assert.equal(updated.name, 'Photo library');
    assert.equal(updated.accessTokenFormat, 'opaque');
    assert.equal(updated.accessTokenTtl, 900);
    assert.deepEqual(updated.scopes.map((scope) => scope.name), ['photos:read']);
    // The colon form of old (name:description) is refused with the way to say it now.
    assert.match(
      await refused(['resources', 'update', 'https://photos.example.com', '--scope', 'photos:read:Look at your photos']),
      /a scope name has no spaces; give its description after =, like 'photos:read=Read your photos'/,
    );
    assert.match(await refused(['resources', 'update', 'https://photos.example.com', '--scope', '=Nameless']), /expected a scope name/);

    assert.match(await refused(['resources', 'create', '--indicator', 'https://photos.example.com', '--name', 'Again']), /already exists/);
    assert.match(await refused(['resources', 'create', '--indicator', 'https://x.example.com', '--name', 'X', '--ttl', 'soon']), /whole number/);
    assert.match(await refused(['resources', 'update', 'https://nowhere.example.com', '--name', 'X']), /no resource server/);

    // Deleted once, audited; refused while a client is registered for it.
    await cli(['clients', 'create', '--type', 'service', '--name', 'Photo sync', '--resource', 'https://photos.example.com', '--scope', 'photos:read']);
    assert.match(await refused(['resources', 'delete', 'https://photos.example.com']), /has clients registered for it/);
    const sync = (await json<{ clientId: string; name: string }[]>(['clients', 'list'])).find((client) => client.name === 'Photo sync')!;
    await cli(['clients', 'delete', sync.clientId]);
    assert.deepEqual(await json(['resources', 'delete', 'https://photos.example.com']), { deleted: 'https://photos.example.com' });
    assert.match(await refused(['resources', 'delete', 'https://photos.example.com']), /no resource server/);
    assert.match(await refused(['resources', 'show', 'https://photos.example.com']), /no resource server/);
  });

  void test('--scope-roles limits a scope to accounts with one of the roles, and only names a --scope of the same command', async () => {
    type Scopes = { scopes: { name: string; description: string; roles: string[] }[] };
    const created = await json<Scopes>([
      'resources', 'create',
      '--indicator', 'https://wiki.example.com',
      '--name', 'Wiki',
      '--scope', 'read',
      '--scope', 'write=Edit pages',
      '--scope', 'delete',
      '--scope-roles', 'write=admin,editor',
      '--scope-roles', 'delete=admin',
      '--scope-roles', 'write=ops',
    ]);
    assert.deepEqual(created.scopes, [
      { name: 'delete', description: '', roles: ['admin'] },
      { name: 'read', description: '', roles: [] },
      { name: 'write', description: 'Edit pages', roles: ['admin', 'editor', 'ops'] },
    ]);
    const shown = await cli(['resources', 'show', 'https://wiki.example.com']);
    assert.match(shown.stdout, /write \(Edit pages; roles: admin editor ops\)/);

    const updated = await json<Scopes>([
      'resources', 'update', 'https://wiki.example.com', '--scope', 'read', '--scope', 'write', '--scope-roles', 'write=editor',
    ]);
    assert.deepEqual(updated.scopes, [
      { name: 'read', description: '', roles: [] },
      { name: 'write', description: '', roles: ['editor'] },
    ]);

    const before = await json(['resources', 'show', 'https://wiki.example.com']);
    const update = ['resources', 'update', 'https://wiki.example.com'];
    assert.match(await refused([...update, '--scope', 'read', '--scope-roles', 'write=admin']), /--scope-roles: write is not one of the --scope names/);
    assert.match(await refused([...update, '--scope-roles', 'write=admin']), /--scope-roles: give the --scope flags/);
    assert.match(await refused([...update, '--scope', 'write', '--scope-roles', 'write']), /expected a scope, = and a comma-separated list of roles/);
    assert.match(await refused([...update, '--scope', 'write', '--scope-roles', 'write=']), /expected a scope, = and/);
    assert.match(await refused([...update, '--scope', 'write', '--scope-roles', 'write=Admin']), /roles are lowercase/);
    assert.match(
      await refused(['resources', 'create', '--indicator', 'https://new.example.com', '--name', 'New', '--scope', 'a', '--scope-roles', 'b=admin']),
      /b is not one of the --scope names/,
    );
    assert.deepEqual(await json(['resources', 'show', 'https://wiki.example.com']), before);
    assert.match(await refused(['resources', 'show', 'https://new.example.com']), /no resource server/);
  });
});

void describe('portcullis revoke and grants', () => {
  const LEDGER = 'https://ledger.example.com';
  const ids = { alice: '', bob: '' };
  const clients = { web: 'ledger-web', app: 'ledger-app', worker: 'ledger-worker' };

  /** Every stored grant and token id, per table, sorted. */
  const rows = () =>
    withPrisma(async (prisma) => {
      const sorted = (list: { id: string }[]) => list.map((row) => row.id).sort();
      return {
        grants: sorted(await prisma.oidcGrant.findMany({ select: { id: true } })),
        accessTokens: sorted(await prisma.oidcAccessToken.findMany({ select: { id: true } })),
        refreshTokens: sorted(await prisma.oidcRefreshToken.findMany({ select: { id: true } })),
        clientCredentials: sorted(await prisma.oidcClientCredentials.findMany({ select: { id: true } })),
        // Live ones: an ended session is kept (marked) for an hour (ended-session.ts).
        sessions: sorted(await prisma.oidcSession.findMany({ where: { endedAt: null }, select: { id: true } })),
      };
    });

  before(async () => {
    for (const [key, name] of [['alice', 'Alice'], ['bob', 'Bob']] as const) {
      const user = await json<{ id: string }>(['users', 'create', '--email', `${key}@ledger.example.com`, '--name', name, '--without-password']);
      ids[key] = user.id;
    }
    await json(['resources', 'create', '--indicator', LEDGER, '--name', 'Ledger', '--scope', 'read', '--scope', 'write']);
    const web = ['--type', 'web', '--redirect-uri', 'https://ledger.example.com/cb', '--resource', LEDGER];
    await json(['clients', 'create', ...web, '--name', 'Ledger web', '--id', clients.web]);
    await json(['clients', 'create', ...web, '--name', 'Ledger app', '--id', clients.app, '--grant-type', 'authorization_code', '--grant-type', 'client_credentials']);
    await json(['clients', 'create', '--type', 'service', '--name', 'Ledger worker', '--id', clients.worker, '--resource', LEDGER]);

    // Grants and tokens as oidc-provider stores them, inserted directly: only the columns
    // and payload fields that revocation reads.
    const iat = Math.floor(Date.now() / 1000);
    const expiresAt = new Date(Date.now() + 3_600_000);
    const grants: [string, string, string][] = [
      ['grant-alice-web', ids.alice, clients.web],
      ['grant-alice-app', ids.alice, clients.app],
      ['grant-bob-web', ids.bob, clients.web],
      ['grant-bob-app', ids.bob, clients.app],
    ];
    await withPrisma(async (prisma) => {
      await prisma.oidcGrant.createMany({
        data: grants.map(([id, accountId, clientId], index) => ({
          id,
          accountId,
          clientId,
          expiresAt,
          payload: { accountId, clientId, openid: { scope: 'openid' }, resources: { [LEDGER]: 'read' }, iat: iat - index },
        })),
      });
      await prisma.oidcAccessToken.createMany({
        data: grants.map(([grantId]) => ({ id: `at-${grantId}`, grantId, expiresAt, payload: { grantId } })),
      });
      await prisma.oidcRefreshToken.createMany({
        data: ['grant-alice-web', 'grant-bob-web'].map((grantId) => ({ id: `rt-${grantId}`, grantId, expiresAt, payload: { grantId } })),
      });
      await prisma.oidcClientCredentials.createMany({
        data: [clients.app, clients.worker].map((clientId) => ({ id: `cc-${clientId}`, expiresAt, payload: { clientId } })),
      });
      await prisma.oidcSession.createMany({
        data: Object.entries(ids).map(([key, accountId]) => ({ id: `session-${key}`, uid: `uid-${key}`, accountId, expiresAt, payload: { accountId } })),
      });
    });
  });

  void test('grants list shows an account\'s grants, by email or id', async () => {
    const listed = await json<{ id: string; clientId: string; scopes: string[]; resources: Record<string, string[]> }[]>(
      ['grants', 'list', '--user', 'Alice@Ledger.example.com'],
    );
    assert.deepEqual(listed.map((grant) => grant.id), ['grant-alice-web', 'grant-alice-app']);
    assert.deepEqual(listed[0]?.scopes, ['openid']);
    assert.deepEqual(listed[0]?.resources, { [LEDGER]: ['read'] });
    const table = await cli(['grants', 'list', '--user', ids.bob]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /grant-bob-web\s+ledger-web\s+openid, https:\/\/ledger\.example\.com: read/);
    assert.doesNotMatch(table.stdout, /alice/);
    assert.match(await refused(['grants', 'list', '--user', 'nobody@example.com']), /no account nobody@example\.com/);
    assert.match(await refused(['grants', 'list']), /required option '--user <id-or-email>'/);
  });

  void test('revoke refuses anything but exactly one known user, client or grant, and then changes nothing', async () => {
    const before = await rows();
    assert.match(await refused(['revoke']), /give exactly one of --user, --client, --grant \(none was given\)/);
    assert.match(await refused(['revoke', '--user', ids.alice, '--client', clients.web]), /exactly one of .* \(got --user and --client\)/);
    assert.match(await refused(['revoke', '--user', 'nobody@example.com']), /no account nobody@example\.com/);
    assert.match(await refused(['revoke', '--user', 'not-an-id']), /no account not-an-id/);
    assert.match(await refused(['revoke', '--client', 'no-such-client']), /no client no-such-client/);
    assert.match(await refused(['revoke', '--grant', 'no-such-grant']), /no grant no-such-grant/);
    assert.deepEqual(await rows(), before);
  });

  void test('revoke --grant removes that grant and its tokens only', async () => {
    const revoked = await json(['revoke', '--grant', 'grant-alice-web']);
    assert.deepEqual(revoked, { grant: 'grant-alice-web', grants: 1, tokens: 2 });
    assert.deepEqual(await rows(), {
      grants: ['grant-alice-app', 'grant-bob-app', 'grant-bob-web'],
      accessTokens: ['at-grant-alice-app', 'at-grant-bob-app', 'at-grant-bob-web'],
      refreshTokens: ['rt-grant-bob-web'],
      clientCredentials: ['cc-ledger-app', 'cc-ledger-worker'],
      sessions: ['session-alice', 'session-bob'],
    });
    assert.match(await refused(['revoke', '--grant', 'grant-alice-web']), /no grant grant-alice-web/);
  });

  void test('revoke --user removes every grant, token and session of that account only', async () => {
    const result = await cli(['revoke', '--user', 'alice@ledger.example.com']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'Revoked 1 grant and 1 token of alice@ledger.example.com\n');
    assert.deepEqual(await rows(), {
      grants: ['grant-bob-app', 'grant-bob-web'],
      accessTokens: ['at-grant-bob-app', 'at-grant-bob-web'],
      refreshTokens: ['rt-grant-bob-web'],
      clientCredentials: ['cc-ledger-app', 'cc-ledger-worker'],
      sessions: ['session-bob'],
    });
    assert.deepEqual(await json(['revoke', '--user', ids.alice]), {
      user: { id: ids.alice, email: 'alice@ledger.example.com' },
      grants: 0,
      tokens: 0,
    });
    assert.deepEqual(await json(['grants', 'list', '--user', ids.alice]), []);
  });

  void test('revoke --client removes that client\'s grants, their tokens and its client-credentials tokens only', async () => {
    const revoked = await json(['revoke', '--client', clients.app]);
    assert.deepEqual(revoked, { client: clients.app, grants: 1, tokens: 2 });
    assert.deepEqual(await rows(), {
      grants: ['grant-bob-web'],
      accessTokens: ['at-grant-bob-web'],
      refreshTokens: ['rt-grant-bob-web'],
      clientCredentials: ['cc-ledger-worker'],
      sessions: ['session-bob'],
    });
    const worker = await cli(['revoke', '--client', clients.worker]);
    assert.equal(worker.stdout, 'Revoked 0 grants and 1 token of client ledger-worker\n');
    // The clients and accounts themselves stay.
    assert.equal((await json<ClientView>(['clients', 'show', clients.app])).name, 'Ledger app');
    assert.equal((await json(['users', 'show', ids.alice])).email, 'alice@ledger.example.com');
  });
});

void describe('portcullis import', () => {
  const file = () => join(dataDir, 'portcullis.yaml');
  const yaml = `
resources:
  - indicator: https://orders.example.com
    name: Orders
    accessTokenTtl: 600
    scopes:
      - name: orders:read
        description: Read your orders
      - name: orders:write
        roles: [ops]
clients:
  - clientId: shop-web
    type: web
    name: Shop
    redirectUris: [https://shop.example.com/callback]
    resources: [https://orders.example.com]
    scopes: [openid, email, profile, orders:read]
  - clientId: shop-worker
    type: service
    name: Shop worker
    resources: [https://orders.example.com]
    scopes: [orders:read, orders:write]
users:
  - email: Grace@Example.com
    name: Grace Hopper
    roles: [ops]
    passwordEnv: GRACE_PASSWORD
`;

  void test('importing a YAML file creates what it declares, and a second run changes nothing', async () => {
    await writeFile(file(), yaml);
    const env = { GRACE_PASSWORD: PASSWORD };
    const first = await json<{ items: { kind: string; id: string; status: string; client_secret?: string }[]; changed: boolean }>(
      ['import', file()],
      { env },
    );
    assert.equal(first.changed, true);
    assert.deepEqual(
      first.items.map(({ kind, id, status }) => `${kind} ${id} ${status}`),
      ['resource https://orders.example.com created', 'client shop-web created', 'client shop-worker created', 'user grace@example.com created'],
    );
    assert.match(first.items.find((item) => item.id === 'shop-web')?.client_secret ?? '', /^[\w-]{43}$/);
    assert.equal(first.items.find((item) => item.kind === 'user')?.client_secret, undefined);

    const afterFirst = await snapshot();
    const second = await cli(['import', file()], { env });
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /Nothing to change: 4 items unchanged/);
    assert.doesNotMatch(second.stdout, /client_secret|created|updated/);
    assert.deepEqual(await snapshot(), afterFirst);

    // Changing the file changes exactly the items that differ.
    await writeFile(file(), yaml.replace('name: Grace Hopper', 'name: Rear Admiral Hopper').replace('accessTokenTtl: 600', 'accessTokenTtl: 300'));
    const third = await json<{ items: { id: string; status: string }[] }>(['import', file()]);
    assert.deepEqual(third.items.map((item) => item.status), ['updated', 'unchanged', 'unchanged', 'updated']);
  });

  void test('an import file with one bad client among good ones exits with 2 and writes nothing', async () => {
    const before = await snapshot();
    const bad = join(dataDir, 'bad.yaml');
    await writeFile(
      bad,
      `
resources:
  - indicator: https://billing.example.com
    name: Billing
clients:
  - clientId: billing-web
    type: web
    name: Billing
    redirectUris: [https://billing.example.com/callback]
  - clientId: broken
    type: web
    name: Broken
    redirectUris: [https://ok.example.com/cb, "not a url"]
users:
  - email: linus@example.com
    name: Linus
`,
    );
    assert.match(await refused(['import', bad]), /clients\[1\]\.redirectUris\.1: must be an absolute URL/);

    // Refusals that need the database to find are made before anything is written too.
    await writeFile(
      bad,
      `
resources:
  - indicator: https://billing.example.com
    name: Billing
clients:
  - clientId: billing-web
    type: web
    name: Billing
    redirectUris: [https://billing.example.com/callback]
  - clientId: shop-web
    type: spa
    name: Shop
    redirectUris: [https://shop.example.com/callback]
  - clientId: stranger
    type: service
    name: Stranger
    resources: [https://unregistered.example.com]
users:
  - email: linus@example.com
    name: Linus
    passwordEnv: LINUS_PASSWORD
`,
    );
    const line = await refused(['import', bad]);
    assert.match(line, /clients\[1\]\.type: shop-web is a web client/);
    assert.match(line, /clients\[2\]\.resources\.0: https:\/\/unregistered\.example\.com is not a registered resource server/);
    assert.match(line, /users\[0\]\.passwordEnv: the environment variable LINUS_PASSWORD is not set/);

    await writeFile(bad, 'clients:\n  - type: web\n    name: No id\n    redirectUris: [https://x.example.com/cb]\n    colour: blue\n');
    assert.match(await refused(['import', bad]), /clients\[0\]: Unrecognized key: "colour"/);
    await writeFile(bad, 'clients: [unclosed');
    assert.match(await refused(['import', bad]), /not valid YAML/);
    assert.match(await refused(['import', join(dataDir, 'missing.yaml')]), /no such file/);

    assert.deepEqual(await snapshot(), before);
  });
});

void describe('portcullis demo', () => {
  void test('demo prints credentials and an S256 authorization URL, and running it again does not fail', async () => {
    const first = await json<{
      user: { email: string; password?: string };
      clients: { web: { client_id: string; client_secret?: string }; service: { client_id: string; client_secret?: string } };
      authorization: { url: string; code_verifier: string; state: string };
    }>(['demo']);
    assert.equal(first.user.email, 'demo@example.com');
    assert.ok(first.user.password && first.user.password.length >= 16);
    assert.ok(first.clients.web.client_secret);
    assert.ok(first.clients.service.client_secret);

    const url = new URL(first.authorization.url);
    assert.equal(`${url.origin}${url.pathname}`, `${ISSUER}/auth`);
    assert.equal(url.searchParams.get('client_id'), first.clients.web.client_id);
    assert.equal(url.searchParams.get('redirect_uri'), 'http://localhost:8080/callback');
    assert.equal(url.searchParams.get('scope'), 'openid email profile offline_access');
    assert.equal(url.searchParams.get('prompt'), 'consent');
    assert.equal(url.searchParams.get('state'), first.authorization.state);
    assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
    assert.equal(
      url.searchParams.get('code_challenge'),
      createHash('sha256').update(first.authorization.code_verifier).digest('base64url'),
    );

    const resource = await json<{ scopes: { name: string }[] }>(['resources', 'show', 'https://api.example.com']);
    assert.deepEqual(resource.scopes.map((scope) => scope.name), ['read', 'write']);

    const again = await cli(['demo']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /code_challenge_method=S256/);
    assert.ok(!again.stdout.includes(first.user.password));
    assert.ok(!again.stdout.includes(first.clients.web.client_secret));
    assert.match(again.stdout, /exists; not shown again/);
  });
});

void describe('portcullis clients and the device grant', () => {
  void test('clients create registers a device client only when it names the grant, with no redirect URI', async () => {
    const device = 'urn:ietf:params:oauth:grant-type:device_code';
    const tv = await json<Created>(['clients', 'create', '--type', 'native', '--name', 'Living Room TV', '--grant-type', device, '--grant-type', 'refresh_token']);
    assert.deepEqual(tv.client.grantTypes, [device, 'refresh_token']);
    assert.equal(tv.client_secret, undefined);
    assert.match(await refused(['clients', 'create', '--type', 'service', '--name', 'Job', '--grant-type', device]), /device_code is for native and web clients/);
  });
});
