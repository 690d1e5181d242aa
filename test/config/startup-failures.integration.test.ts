import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { holdPort, onlyLine, runEntry, temporaryFolder } from '../helpers/run-entry.ts';

// Every start-up failure of the real server entry (`npm start`) is one line on stderr
// naming the variable or file to fix, and exit status 1: no pg stack, no engine notice.

const POSTGRES = process.env.TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const withDatabase = (pathname: string, user = 'postgres') => {
  const url = new URL(POSTGRES);
  url.username = user;
  url.pathname = pathname;
  return url.toString();
};

let cwd: string;
let dataDir: string;

before(async () => {
  cwd = await temporaryFolder('startup');
  dataDir = path.join(cwd, 'data');
});
after(() => rm(cwd, { recursive: true, force: true }));

async function failedStart(env: Record<string, string>, where = cwd): Promise<string> {
  const result = await runEntry('server', { cwd: where, env: { DATA_DIR: dataDir, PORT: '0', MANAGEMENT_PORT: '0', ...env } });
  assert.equal(result.code, 1, `expected exit 1; stderr: ${result.stderr}`);
  const line = onlyLine(result.stderr);
  assert.match(line, /^portcullis: \S/);
  assert.doesNotMatch(result.stderr, /Unsupported runtime|\n\s+at /);
  return line;
}

describe('DATABASE_URL', () => {
  test('a port where no Postgres listens is named with the host, never a stack', async () => {
    const line = await failedStart({ DATABASE_URL: 'postgresql://portcullis:secret-password@127.0.0.1:1/portcullis' });
    assert.equal(line, 'portcullis: DATABASE_URL: cannot connect to 127.0.0.1:1/portcullis (connection refused); check the host and port, and that Postgres is running');
  });

  test('an unknown host is named', async () => {
    const line = await failedStart({ DATABASE_URL: 'postgresql://postgres@no-such-host.invalid/portcullis' });
    assert.match(line, /^portcullis: DATABASE_URL: cannot connect to no-such-host\.invalid:5432\/portcullis \((unknown host|the host name could not be resolved)\)/);
  });

  test('a user the server refuses is named, without the password', async () => {
    const line = await failedStart({ DATABASE_URL: withDatabase('/postgres', 'no_such_role').replace('no_such_role', 'no_such_role:hunter2-secret') });
    assert.match(line, /^portcullis: DATABASE_URL: cannot connect to [^ ]+\/postgres \((the server refused this user|wrong user name or password)\)/);
    assert.doesNotMatch(line, /hunter2/);
  });

  test('a database that does not exist is named with what to do', async () => {
    const line = await failedStart({ DATABASE_URL: withDatabase('/portcullis_no_such_database') });
    assert.match(line, /DATABASE_URL: cannot connect to [^ ]+\/portcullis_no_such_database \(the database does not exist\); create it \(createdb\)/);
  });

  test('a malformed URL is refused as configuration, without echoing it', async () => {
    const line = await failedStart({ DATABASE_URL: 'postgresql://user:pass@host:port/db' });
    assert.match(line, /^portcullis: invalid configuration: DATABASE_URL: not a valid URL: write postgresql:\/\/user:password@host:5432\/database/);
    assert.doesNotMatch(line, /pass@/);
  });
});

describe('ports, files and folders', () => {
  test('a busy management port names MANAGEMENT_PORT', async () => {
    const { port, server } = await holdPort();
    try {
      const line = await failedStart({ MANAGEMENT_PORT: String(port) });
      assert.equal(line, `portcullis: MANAGEMENT_PORT: 127.0.0.1:${port} is already in use; stop what listens there or set MANAGEMENT_PORT to a free port`);
    } finally {
      server.close();
    }
  });

  test('a busy public port names PORT', async () => {
    const { port, server } = await holdPort();
    try {
      const line = await failedStart({ PORT: String(port) });
      assert.equal(line, `portcullis: PORT: 127.0.0.1:${port} is already in use; stop what listens there or set PORT to a free port`);
    } finally {
      server.close();
    }
  });

  test('a missing TLS certificate file names TLS_CERT_FILE', async () => {
    const missing = path.join(cwd, 'missing-cert.pem');
    const line = await failedStart({ TLS_CERT_FILE: missing, TLS_KEY_FILE: missing, ISSUER: 'https://localhost:3443' });
    assert.equal(line, `portcullis: TLS_CERT_FILE: cannot read ${missing} (ENOENT)`);
  });

  test('a DATA_DIR that cannot be a folder names DATA_DIR', async () => {
    const file = path.join(cwd, 'a-file');
    await writeFile(file, 'not a folder');
    const line = await failedStart({ DATA_DIR: path.join(file, 'data') });
    assert.match(line, /^portcullis: DATA_DIR: cannot create .*a-file\/data \(ENOTDIR\); make its parent writable or set DATA_DIR$/);
  });

  test('an unreadable .env names the file', async () => {
    const where = await temporaryFolder('env-dir');
    try {
      await mkdir(path.join(where, '.env'));
      const line = await failedStart({}, where);
      assert.equal(line, `portcullis: ${path.join(where, '.env')}: cannot read it (EISDIR); fix its permissions or remove it`);
    } finally {
      await rm(where, { recursive: true, force: true });
    }
  });
});
