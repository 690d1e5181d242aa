import assert from 'node:assert/strict';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { freePort, onlyLine, runEntry, startServerEntry, stopServerEntry, temporaryFolder } from '../helpers/run-entry.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.ts';

// Server and CLI read one configuration (.env in the working directory, the real
// environment winning), and a CLI that would act on another deployment says so and
// changes nothing: another issuer, a database no server uses, another master secret.

describe('a server and the CLI configured by one .env file', () => {
  let project: string;
  let elsewhere: string;
  let port: number;
  let server: ChildProcessWithoutNullStreams | undefined;

  before(async () => {
    project = await temporaryFolder('dotenv');
    elsewhere = await temporaryFolder('elsewhere');
    port = await freePort();
    const managementPort = await freePort();
    await writeFile(path.join(project, '.env'), `# as in .env.example\nPORT=${port}\nMANAGEMENT_PORT=${managementPort}\nDATA_DIR=./state\nLOG_LEVEL=warn\n`);
    server = await startServerEntry({ cwd: project, env: {} });
  });

  after(async () => {
    if (server) await stopServerEntry(server);
    await rm(project, { recursive: true, force: true });
    await rm(elsewhere, { recursive: true, force: true });
  });

  test('the CLI in the same folder works on the server\'s database and issuer with nothing exported', async () => {
    const result = await runEntry('cli', { cwd: project, env: {}, args: ['--json', 'clients', 'create', '--type', 'service', '--name', 'Batch'] });
    assert.equal(result.code, 0, result.stderr);
    const listed = await runEntry('cli', { cwd: project, env: {}, args: ['--json', 'resources', 'list'] });
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`http://localhost:${port}/api`));
  });

  test('a variable exported in the shell wins over .env, and a CLI with another issuer refuses in one line', async () => {
    const result = await runEntry('cli', { cwd: project, env: { PORT: '3000' }, args: ['demo'] });
    assert.equal(result.code, 1, result.stderr);
    assert.equal(
      onlyLine(result.stderr),
      `portcullis: ISSUER: this database is served as http://localhost:${port} but this command has http://localhost:3000; set ISSUER (or PORT) as the server has them, e.g. in .env`,
    );
    const listed = await runEntry('cli', { cwd: project, env: {}, args: ['--json', 'resources', 'list'] });
    assert.doesNotMatch(listed.stdout, /localhost:3000/, 'the refused command wrote nothing');
  });

  test('a CLI started elsewhere does not create a second embedded database', async () => {
    const result = await runEntry('cli', { cwd: elsewhere, env: {}, args: ['demo'] });
    assert.equal(result.code, 1, result.stderr);
    assert.equal(
      onlyLine(result.stderr),
      `portcullis: DATA_DIR: no database in ${path.join(elsewhere, 'data')} and no server running on it; start the server first (npm start), or set DATA_DIR or DATABASE_URL as the server has them (e.g. in .env)`,
    );
    const migrate = await runEntry('cli', { cwd: elsewhere, env: {}, args: ['migrate'] });
    assert.equal(migrate.code, 0, `migrate may set a database up: ${migrate.stderr}`);
  });

  test('the server on the embedded database with another MASTER_SECRET exits with one line instead of hanging', async () => {
    if (server) await stopServerEntry(server);
    server = undefined;
    const started = Date.now();
    const result = await runEntry('server', { cwd: project, env: { MASTER_SECRET: 'another-master-secret-of-at-least-32-characters' } });
    assert.equal(result.code, 1, `expected exit 1 (null: killed after a minute, a hang); stderr: ${result.stderr}`);
    assert.equal(
      onlyLine(result.stderr),
      "portcullis: MASTER_SECRET is not the secret this database was set up with; use that deployment's MASTER_SECRET (every instance and the CLI need the same one)",
    );
    assert.ok(Date.now() - started < 55_000);
  });
});

describe('one deployment, one master secret, on a shared database', () => {
  let database: TestDatabase;
  let cwd: string;

  before(async () => {
    database = await createTestDatabase();
    cwd = await temporaryFolder('secret');
  });
  after(async () => {
    await database.destroy();
    await rm(cwd, { recursive: true, force: true });
  });

  const cli = (env: Record<string, string>, args: string[]) =>
    runEntry('cli', { cwd, env: { DATABASE_URL: database.url, DATABASE_POOL_MAX: String(database.poolMax), ...env }, args });

  test('a second DATA_DIR (its own development secret) or another MASTER_SECRET is refused before anything is sealed', async () => {
    const first = await cli({ DATA_DIR: path.join(cwd, 'a') }, ['--json', 'clients', 'create', '--type', 'service', '--name', 'First']);
    assert.equal(first.code, 0, first.stderr);

    const second = await cli({ DATA_DIR: path.join(cwd, 'b') }, ['clients', 'create', '--type', 'service', '--name', 'Second']);
    assert.equal(second.code, 1, second.stderr);
    assert.equal(
      onlyLine(second.stderr),
      `portcullis: MASTER_SECRET is not set and ${path.join(cwd, 'b')}/master.key is not the secret this database was set up with; set MASTER_SECRET (or DATA_DIR) as the server that set it up has it`,
    );

    const third = await cli({ DATA_DIR: path.join(cwd, 'a'), MASTER_SECRET: 'a-different-master-secret-of-32-characters' }, ['clients', 'list']);
    assert.equal(third.code, 1, third.stderr);
    assert.match(onlyLine(third.stderr), /^portcullis: MASTER_SECRET is not the secret this database was set up with/);

    const listed = await cli({ DATA_DIR: path.join(cwd, 'a') }, ['--json', 'clients', 'list']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.doesNotMatch(listed.stdout, /Second/, 'the refused command created nothing');
  });
});
