import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { onlyLine, runEntry, temporaryFolder } from '../helpers/run-entry.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.ts';

// A redirect URI typed without its scheme is the commonest first mistake: the CLI and
// the import file both say what is wrong and what to write, exit 2, and create nothing.

let database: TestDatabase;
let cwd: string;
const EXPECTED = 'localhost:8080/callback is not a URL with http:// or https://; write http://localhost:8080/callback';

before(async () => {
  database = await createTestDatabase();
  cwd = await temporaryFolder('redirect');
});
after(async () => {
  await database.destroy();
  await rm(cwd, { recursive: true, force: true });
});

const cli = (args: string[]) =>
  runEntry('cli', {
    cwd,
    env: { DATABASE_URL: database.url, DATABASE_POOL_MAX: String(database.poolMax), MASTER_SECRET: 'redirect-test-master-secret-of-32-characters' },
    args,
  });

test('clients create --redirect-uri localhost:8080/callback names the fix', async () => {
  const result = await cli(['clients', 'create', '--type', 'web', '--name', 'My app', '--redirect-uri', 'localhost:8080/callback']);
  assert.equal(result.code, 2, result.stderr);
  assert.equal(onlyLine(result.stderr), `portcullis: redirectUris.0: ${EXPECTED}`);
});

test('an import file with the same mistake names the client and the fix', async () => {
  const file = path.join(cwd, 'clients.yaml');
  await writeFile(file, 'clients:\n  - clientId: my-app\n    type: web\n    name: My app\n    redirectUris: [localhost:8080/callback]\n');
  const result = await cli(['import', file]);
  assert.equal(result.code, 2, result.stderr);
  assert.match(onlyLine(result.stderr), new RegExp(`^portcullis: .*redirectUris\\.0: ${EXPECTED.replace(/[/.?]/g, '\\$&')}`));
  const listed = await cli(['--json', 'clients', 'list']);
  assert.equal(listed.code, 0, listed.stderr);
  assert.doesNotMatch(listed.stdout, /my-app/);
});
