import { randomBytes } from 'node:crypto';
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
  image?: string;
  build?: string;
  ports?: string[];
  volumes?: string[];
  healthcheck?: unknown;
  depends_on?: Record<string, { condition: string }>;
}
// `merge`: the instances share one definition through a YAML merge key, as Compose reads it.
const compose = parse(readFileSync(path.join(PROJECT_ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, ComposeService> };
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

test('the deployment is Postgres, Redis, two identical Portcullis instances and nginx in front', () => {
  assert.deepEqual(Object.keys(compose.services).sort(), ['nginx', 'portcullis', 'portcullis-2', 'postgres', 'redis']);
  const [first, second] = [compose.services.portcullis, compose.services['portcullis-2']];
  assert.ok(first && second);
  const { ports: firstPorts, ...firstRest } = first;
  const { ports: secondPorts, ...secondRest } = second;
  assert.deepEqual(firstRest, secondRest, 'the instances differ only in their published ports');
  assert.equal(first.build, '.');
  assert.deepEqual(first.depends_on, { postgres: { condition: 'service_healthy' }, redis: { condition: 'service_healthy' } });
  // Only the management port, on the host's loopback, and a different one each.
  for (const ports of [firstPorts, secondPorts]) {
    assert.equal(ports?.length, 1);
    assert.match(ports?.[0] ?? '', /^127\.0\.0\.1:\d+:9464$/);
  }
  assert.notEqual(firstPorts?.[0], secondPorts?.[0]);
  // Behind the proxy: forwarded headers trusted, one hop, the issuer https.
  assert.equal(first.environment?.TRUST_PROXY, 'true');
  assert.equal(first.environment?.TRUST_PROXY_HOPS, '1');
  assert.equal(first.environment?.REDIS_URL, 'redis://redis:6379');
  assert.match(first.environment?.DATABASE_URL ?? '', /@postgres:5432\//);
  assert.match(first.environment?.ISSUER ?? '', /^\$\{ISSUER:-https:\/\/[^}]+\}$/, 'ISSUER from .env, https by default');
  const config = loadConfig({ ...first.environment, ISSUER: 'https://localhost', MASTER_SECRET: randomBytes(48).toString('base64') });
  assert.equal(config.trustProxy, true);
  assert.equal(config.issuer, 'https://localhost');
});

test('nginx publishes https (and http only to redirect), with the config and certificate of deploy/nginx', () => {
  const nginx = compose.services.nginx;
  assert.ok(nginx);
  assert.deepEqual(nginx.ports?.sort(), ['443:443', '80:80']);
  assert.deepEqual(Object.keys(nginx.depends_on ?? {}).sort(), ['portcullis', 'portcullis-2']);
  const mounts = new Map((nginx.volumes ?? []).map((volume) => volume.split(':') as [string, string, string?]).map(([from, to]) => [to, from]));
  assert.equal(mounts.get('/etc/nginx/conf.d/default.conf'), './deploy/nginx/portcullis.conf');
  assert.equal(mounts.get('/etc/nginx/certs'), './deploy/nginx/certs');
  const conf = readFileSync(path.join(PROJECT_ROOT, 'deploy/nginx/portcullis.conf'), 'utf8');
  // The upstream names every instance at its PORT, and the certificate paths are the mount's.
  const upstreams = [...conf.matchAll(/^\s*server (\S+):(\d+)\b/gm)].map(([, host, port]) => `${host}:${port}`);
  assert.deepEqual(upstreams, ['portcullis:3000', 'portcullis-2:3000']);
  assert.match(conf, /ssl_certificate \/etc\/nginx\/certs\/cert\.pem;/);
  assert.match(conf, /ssl_certificate_key \/etc\/nginx\/certs\/key\.pem;/);
  for (const header of ['X-Forwarded-For $proxy_add_x_forwarded_for', 'X-Forwarded-Proto $scheme', 'Host $http_host']) {
    assert.ok(conf.includes(`proxy_set_header ${header};`), header);
  }
  // The documented command that makes the certificate is the script beside the config.
  assert.match(header, /^#\s+deploy\/nginx\/make-cert\.sh\b/m);
});
