import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';

import { loadEnvFile, loadRuntimeConfig } from '../../src/config/index.ts';

// The one way server and CLI read their settings: .env in the working directory, under
// the real environment.

const dir = mkdtempSync(path.join(os.tmpdir(), 'portcullis-envfile-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('.env fills what the environment lacks; a variable in the environment wins, even an empty one', () => {
  writeFileSync(path.join(dir, '.env'), '# comment\nPORT=4100\nDATA_DIR="./state"\nLOG_LEVEL=debug\nISSUER=http://localhost:9999\n');
  const env: NodeJS.ProcessEnv = { LOG_LEVEL: 'warn', ISSUER: '' };
  assert.equal(loadEnvFile(dir, env), path.join(dir, '.env'));
  assert.deepEqual(env, { PORT: '4100', DATA_DIR: './state', LOG_LEVEL: 'warn', ISSUER: '' });
});

test('loadRuntimeConfig reads .env before the config: the issuer follows the file\'s PORT', () => {
  writeFileSync(path.join(dir, '.env'), 'PORT=4200\n');
  const config = loadRuntimeConfig(dir, {});
  assert.equal(config.issuer, 'http://localhost:4200');
});

test('no .env is no error', () => {
  const empty = mkdtempSync(path.join(os.tmpdir(), 'portcullis-noenv-'));
  try {
    assert.equal(loadEnvFile(empty, {}), undefined);
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});
