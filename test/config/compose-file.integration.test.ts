import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { parse } from 'yaml';

import { loadConfig, loadEnvFile } from '../../src/config/index.ts';
import { envSchema } from '../../src/config/schema.ts';
import { PROJECT_ROOT } from '../helpers/run-cli.ts';
import { temporaryFolder } from '../helpers/run-entry.ts';

// docker-compose.yml reads its settings from .env (as npm start and the CLI do), keeps
// the master secret it was given there, and the command it documents stores one once.
// No Docker engine runs here: the file and the command are checked as the user runs them.

interface ComposeService {
  env_file?: string | string[];
  environment?: Record<string, string>;
}
const compose = parse(readFileSync(path.join(PROJECT_ROOT, 'docker-compose.yml'), 'utf8')) as { services: Record<string, ComposeService> };
const portcullis = compose.services.portcullis;
const header = readFileSync(path.join(PROJECT_ROOT, 'docker-compose.yml'), 'utf8');
const storeSecretCommand = /^#\s+(grep -qs '\^MASTER_SECRET=\.' \.env \|\| .*)$/m.exec(header)?.[1];

let cwd: string;
before(async () => {
  cwd = await temporaryFolder('compose');
});
after(() => rmSync(cwd, { recursive: true, force: true }));

test('the Portcullis service reads .env and pins only what its own services and container need', () => {
  assert.ok(portcullis);
  assert.deepEqual([portcullis.env_file].flat(), ['.env']);
  const known = new Set(Object.keys(envSchema.shape));
  for (const name of Object.keys(portcullis.environment ?? {})) assert.ok(known.has(name), `${name} is a Portcullis variable`);
  assert.equal(portcullis.environment?.HOST, '0.0.0.0', 'reachable in the container whatever .env says');
  assert.equal(portcullis.environment?.NODE_ENV, 'production');
  assert.match(portcullis.environment?.MASTER_SECRET ?? '', /^\$\{MASTER_SECRET:\?.+\}$/, 'the secret comes from .env, never made per start');
});

test('.dockerignore keeps .env (and its variants) out of the image, but not .env.example', () => {
  const lines = readFileSync(path.join(PROJECT_ROOT, '.dockerignore'), 'utf8').split('\n');
  assert.ok(lines.includes('.env'));
  assert.ok(lines.includes('.env.*'));
  assert.ok(lines.includes('!.env.example'));
});

test('the documented command stores a master secret in .env once, and never replaces it', () => {
  assert.ok(storeSecretCommand, 'docker-compose.yml documents the command');
  copyFileSync(path.join(PROJECT_ROOT, '.env.example'), path.join(cwd, '.env'));
  execFileSync('bash', ['-c', storeSecretCommand], { cwd });
  const first = readFileSync(path.join(cwd, '.env'), 'utf8');
  execFileSync('bash', ['-c', storeSecretCommand], { cwd });
  assert.equal(readFileSync(path.join(cwd, '.env'), 'utf8'), first, 'a second run changes nothing');

  const env: NodeJS.ProcessEnv = { ...portcullis?.environment, MASTER_SECRET: undefined };
  loadEnvFile(cwd, env);
  const config = loadConfig({ ...env, ISSUER: 'https://auth.example.com' });
  assert.equal(config.production, true);
  assert.ok((config.masterSecret ?? '').length >= 48, 'the stored secret is the one the server reads');
});
