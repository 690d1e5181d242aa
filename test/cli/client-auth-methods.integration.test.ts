import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { createTestDatabase, type TestDatabase } from '../helpers/test-database.ts';
import { runCli, type CliResult } from '../helpers/run-cli.ts';

// `portcullis clients` and `portcullis import` for the ways a client authenticates: a
// secret in the Basic header (default) or the body, or a JWT signed with its own key whose
// public keys are registered from a file or a URL. A private or symmetric key is refused
// without being echoed; a secret is printed only at creation or rotation.

/** RFC 7517 appendix A's P-256 key: its public part, and the private member. */
const PUBLIC_JWK = { kty: 'EC', crv: 'P-256', x: 'MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4', y: '4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM', kid: 'signing-1' };
const PRIVATE_D = '870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE';

let database: TestDatabase;
let dataDir: string;

function cli(args: string[]): Promise<CliResult> {
  return runCli({ databaseUrl: database.url, poolMax: database.poolMax, masterSecret: 'cli-auth-test-master-secret-of-at-least-32-chars', dataDir }, args);
}

async function json<T = Record<string, unknown>>(args: string[]): Promise<T> {
  const result = await cli(['--json', ...args]);
  assert.equal(result.code, 0, `portcullis ${args.join(' ')} failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

async function refused(args: string[]): Promise<string> {
  const result = await cli(args);
  assert.equal(result.code, 2, `expected exit 2 from portcullis ${args.join(' ')}: ${result.stdout} ${result.stderr}`);
  const lines = result.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, result.stderr);
  return lines[0] ?? '';
}

interface Created {
  client_id: string;
  client_secret?: string;
  client: { authMethod: string; jwks: unknown; jwksUri: string | null; confidential: boolean };
}

before(async () => {
  database = await createTestDatabase();
  dataDir = await mkdtemp(join(tmpdir(), 'portcullis-cli-auth-'));
  const migrated = await cli(['migrate']);
  assert.equal(migrated.code, 0, migrated.stderr);
});

after(async () => {
  await database?.destroy();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

test('clients create --auth-method client_secret_post prints the secret once', async () => {
  const created = await json<Created>(['clients', 'create', '--type', 'service', '--name', 'Poster', '--auth-method', 'client_secret_post']);
  assert.match(created.client_secret ?? '', /^[\w-]{43}$/);
  assert.equal(created.client.authMethod, 'client_secret_post');
  const basic = await json<Created>(['clients', 'create', '--type', 'web', '--name', 'Web', '--redirect-uri', 'https://app.example.com/cb']);
  assert.equal(basic.client.authMethod, 'client_secret_basic', 'Basic stays the default');
});

test('private_key_jwt from a --jwks-file: no secret; show names the method and the key', async () => {
  const keys = join(dataDir, 'public.json');
  await writeFile(keys, JSON.stringify(PUBLIC_JWK));
  const created = await json<Created>(['clients', 'create', '--type', 'service', '--name', 'Signer', '--id', 'signer', '--auth-method', 'private_key_jwt', '--jwks-file', keys]);
  assert.equal(created.client_secret, undefined);
  assert.equal(created.client.confidential, true);
  assert.deepEqual(created.client.jwks, { keys: [PUBLIC_JWK] });
  const shown = await cli(['clients', 'show', 'signer']);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /authentication:\s+private_key_jwt/);
  assert.match(shown.stdout, /secret:\s+none \(signs with its own key\)/);
  assert.match(shown.stdout, /keys:\s+EC signing-1/);
});

test('a private key, a symmetric key or no key at all is refused in one line, and nothing is written', async () => {
  const privateFile = join(dataDir, 'private.json');
  await writeFile(privateFile, JSON.stringify({ keys: [{ ...PUBLIC_JWK, d: PRIVATE_D }] }));
  const line = await refused(['clients', 'create', '--type', 'service', '--name', 'Leaky', '--id', 'leaky', '--auth-method', 'private_key_jwt', '--jwks-file', privateFile]);
  assert.match(line, /jwks\.keys\.0: is a private key/);
  assert.ok(!line.includes(PRIVATE_D), 'the private key is not echoed');
  const symmetric = join(dataDir, 'symmetric.json');
  await writeFile(symmetric, JSON.stringify({ kty: 'oct', k: 'c2hhcmVkLXNlY3JldA' }));
  assert.match(await refused(['clients', 'create', '--type', 'service', '--name', 'Shared', '--auth-method', 'private_key_jwt', '--jwks-file', symmetric]), /symmetric key/);
  assert.match(await refused(['clients', 'create', '--type', 'service', '--name', 'Keyless', '--auth-method', 'private_key_jwt']), /needs its public keys/);
  const notJson = join(dataDir, 'broken.json');
  await writeFile(notJson, `{"d": "${PRIVATE_D}"`);
  const broken = await refused(['clients', 'create', '--type', 'service', '--name', 'Broken', '--auth-method', 'private_key_jwt', '--jwks-file', notJson]);
  assert.match(broken, /not valid JSON/);
  assert.ok(!broken.includes(PRIVATE_D));
  const all = await json<{ clientId: string }[]>(['clients', 'list']);
  assert.ok(!all.some((client) => client.clientId === 'leaky'));
});

test('update moves a client to keys (its secret stops existing) and back only through rotate-secret', async () => {
  const created = await json<Created>(['clients', 'create', '--type', 'service', '--name', 'Mover', '--id', 'mover']);
  assert.ok(created.client_secret);
  const moved = await json<Created['client']>(['clients', 'update', 'mover', '--auth-method', 'private_key_jwt', '--jwks-uri', 'https://mover.example.com/jwks.json']);
  assert.equal(moved.authMethod, 'private_key_jwt');
  assert.equal(moved.jwksUri, 'https://mover.example.com/jwks.json');
  assert.match((await cli(['clients', 'show', 'mover'])).stdout, /secret:\s+none \(signs with its own key\)/);

  assert.match(await refused(['clients', 'update', 'mover', '--auth-method', 'client_secret_basic']), /rotate-secret mover --auth-method client_secret_basic/);
  assert.match(await refused(['clients', 'rotate-secret', 'mover']), /private_key_jwt and has no secret/);
  const rotated = await json<Created>(['clients', 'rotate-secret', 'mover', '--auth-method', 'client_secret_post']);
  assert.match(rotated.client_secret ?? '', /^[\w-]{43}$/);
  assert.equal(rotated.client.authMethod, 'client_secret_post');
  assert.equal(rotated.client.jwksUri, null, 'a client with a secret keeps no keys');
});

test('an import file declares the method and keys; applying it again changes nothing', async () => {
  const file = join(dataDir, 'clients.yaml');
  await writeFile(
    file,
    [
      'clients:',
      '  - clientId: imported-signer',
      '    type: service',
      '    name: Imported signer',
      '    authMethod: private_key_jwt',
      '    jwks:',
      '      keys:',
      ...Object.entries(PUBLIC_JWK).map(([key, value], index) => `        ${index === 0 ? '- ' : '  '}${key}: ${value}`),
      '  - clientId: imported-poster',
      '    type: service',
      '    name: Imported poster',
      '    authMethod: client_secret_post',
      '',
    ].join('\n'),
  );
  const first = await json<{ items: { id: string; status: string; client_secret?: string }[] }>(['import', file]);
  assert.deepEqual(first.items.map((item) => `${item.id} ${item.status}`), ['imported-signer created', 'imported-poster created']);
  assert.equal(first.items[0]?.client_secret, undefined, 'no secret for a client that signs');
  assert.ok(first.items[1]?.client_secret);
  const second = await cli(['import', file]);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /Nothing to change: 2 items unchanged/);
});

test('clients create/update --require-par and --require-signed-requests switch the requirements; a secret client cannot require signed requests', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-cli-jar-'));
  try {
    const keys = join(dir, 'keys.json');
    await writeFile(keys, JSON.stringify(PUBLIC_JWK));
    type Requirements = { client: { requirePushedRequests: boolean; requireSignedRequests: boolean } };
    const created = await json<Created & Requirements>([
      'clients', 'create', '--type', 'web', '--name', 'Strict', '--redirect-uri', 'https://strict.example.com/cb',
      '--auth-method', 'private_key_jwt', '--jwks-file', keys, '--require-par', '--require-signed-requests',
    ]);
    assert.equal(created.client.requirePushedRequests, true);
    assert.equal(created.client.requireSignedRequests, true);
    const relaxed = await json<{ requirePushedRequests: boolean; requireSignedRequests: boolean }>(['clients', 'update', created.client_id, '--no-require-par']);
    assert.equal(relaxed.requirePushedRequests, false);
    assert.equal(relaxed.requireSignedRequests, true, 'a flag not given keeps its value');
    assert.match(
      await refused(['clients', 'create', '--type', 'web', '--name', 'Secretive', '--redirect-uri', 'https://secret.example.com/cb', '--require-signed-requests']),
      /requireSignedRequests: .*only a private_key_jwt client/,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('clients create/update --exchange-audience and --no-exchange-act set a token-exchange policy; an unregistered audience is refused', async () => {
  const orders = 'https://orders-cli.example.com';
  const resource = await cli(['resources', 'create', '--indicator', orders, '--name', 'Orders', '--scope', 'orders:read=Read orders']);
  assert.equal(resource.code, 0, resource.stderr);
  type Policy = { client: { grantTypes: string[]; exchangeAudiences: string[]; exchangeAct: boolean } };
  const created = await json<Created & Policy>([
    'clients', 'create', '--type', 'service', '--name', 'Exchanger',
    '--grant-type', 'urn:ietf:params:oauth:grant-type:token-exchange', '--exchange-audience', orders, '--scope', 'orders:read',
  ]);
  assert.deepEqual(created.client.exchangeAudiences, [orders]);
  assert.equal(created.client.exchangeAct, true, 'the act claim by default');
  const changed = await json<{ exchangeAct: boolean; exchangeAudiences: string[] }>(['clients', 'update', created.client_id, '--no-exchange-act']);
  assert.equal(changed.exchangeAct, false);
  assert.deepEqual(changed.exchangeAudiences, [orders], 'a flag not given keeps its value');
  const renamed = await json<{ exchangeAct: boolean }>(['clients', 'update', created.client_id, '--name', 'Exchanger 2']);
  assert.equal(renamed.exchangeAct, false, 'an update without the flag keeps impersonation');
  assert.match(
    await refused(['clients', 'create', '--type', 'service', '--name', 'Lost', '--grant-type', 'urn:ietf:params:oauth:grant-type:token-exchange', '--exchange-audience', 'https://nowhere.example.com']),
    /exchangeAudiences: https:\/\/nowhere\.example\.com is not a registered resource server/,
  );
});
