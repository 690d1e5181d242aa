import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { PORTCULLIS_BIN, PROJECT_ROOT, settle, cliEnv } from '../helpers/run-cli.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.ts';
import { spawn } from 'node:child_process';

// The README's import file example is the format's documentation: it must import as
// written, twice (the second time changing nothing), and mean what its comments say.

let database: TestDatabase;
let dataDir: string;
let file: string;

/** The YAML block under "### The import file" in README.md. */
async function readmeExample(): Promise<string> {
  const readme = await readFile(join(PROJECT_ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### The import file'));
  const block = /```yaml\n([\s\S]*?)```/.exec(section);
  assert.ok(block?.[1], 'README.md has a yaml block under "### The import file"');
  return block[1];
}

function cli(args: string[], extra: Record<string, string> = {}) {
  const env = cliEnv({ databaseUrl: database.url, poolMax: database.poolMax, masterSecret: 'readme-import-master-secret-of-32-characters', dataDir }, extra);
  return settle(spawn(process.execPath, [PORTCULLIS_BIN, ...args], { cwd: PROJECT_ROOT, env }));
}

before(async () => {
  database = await createTestDatabase();
  dataDir = await mkdtemp(join(tmpdir(), 'portcullis-readme-import-'));
  file = join(dataDir, 'portcullis.yaml');
  await writeFile(file, await readmeExample());
});

after(async () => {
  await database.destroy();
  await rm(dataDir, { recursive: true, force: true });
});

void test("the README's import file example imports as written, namespaced scopes and all, and a second import changes nothing", async () => {
  const first = await cli(['--json', 'import', file], { EDITOR_PASSWORD: 'a long enough first password' });
  assert.equal(first.code, 0, first.stderr);
  const applied = JSON.parse(first.stdout) as { items: { kind: string; id: string; status: string; clientSecret?: string }[] };
  const status = Object.fromEntries(applied.items.map((item) => [`${item.kind} ${item.id}`, item.status]));
  assert.deepEqual(status, {
    'resource https://photos.example.com': 'created',
    'client photo-web': 'created',
    'client photo-spa': 'created',
    'client photo-indexer': 'created',
    'user editor@example.com': 'created',
  });

  const shown = await cli(['--json', 'resources', 'show', 'https://photos.example.com']);
  assert.equal(shown.code, 0, shown.stderr);
  const resource = JSON.parse(shown.stdout) as { accessTokenTtl: number; scopes: { name: string; description: string; roles: string[] }[] };
  assert.equal(resource.accessTokenTtl, 900);
  assert.deepEqual(resource.scopes, [
    { name: 'photos:read', description: 'Look at your photos', roles: [] },
    { name: 'photos:write', description: 'Add and change your photos', roles: ['editor'] },
  ]);
  const client = await cli(['--json', 'clients', 'show', 'photo-web']);
  assert.deepEqual((JSON.parse(client.stdout) as { scopes: string[] }).scopes, ['openid', 'email', 'profile', 'offline_access', 'photos:read', 'photos:write']);

  const again = await cli(['--json', 'import', file]);
  assert.equal(again.code, 0, again.stderr);
  const second = JSON.parse(again.stdout) as { items: { status: string }[] };
  assert.ok(second.items.every((item) => item.status === 'unchanged'), again.stdout);
});
