import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';

import { loadOrCreateDevMasterSecret } from '../../src/crypto/index.ts';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'portcullis-master-'));
  dirs.push(dir);
  return dir;
}

after(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('development master secret', () => {
  test('the first call creates master.key with mode 0600 in a folder it creates', async () => {
    const dataDir = path.join(await tempDir(), 'not', 'yet', 'there');
    const { secret, created } = await loadOrCreateDevMasterSecret(dataDir);
    assert.equal(created, true);
    assert.ok(secret.length >= 32, `secret of ${secret.length} characters`);
    const file = path.join(dataDir, 'master.key');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal((await readFile(file, 'utf8')).trim(), secret);
  });

  test('a second call returns the same secret with created=false', async () => {
    const dataDir = await tempDir();
    const first = await loadOrCreateDevMasterSecret(dataDir);
    const second = await loadOrCreateDevMasterSecret(dataDir);
    assert.equal(first.created, true);
    assert.deepEqual(second, { secret: first.secret, created: false });
  });

  test('two data folders get different secrets', async () => {
    const [a, b] = await Promise.all([loadOrCreateDevMasterSecret(await tempDir()), loadOrCreateDevMasterSecret(await tempDir())]);
    assert.notEqual(a.secret, b.secret);
  });

  test('an existing secret written by hand is read back, surrounding whitespace trimmed', async () => {
    const dataDir = await tempDir();
    const secret = 's'.repeat(40);
    await writeFile(path.join(dataDir, 'master.key'), `  ${secret}\n`);
    assert.deepEqual(await loadOrCreateDevMasterSecret(dataDir), { secret, created: false });
  });

  test('processes racing to create the secret in a fresh folder all get the one full-length secret', async () => {
    // The window between creating master.key and writing into it is short; many rounds of
    // four racers (libuv's thread pool size) hit it reliably while it exists.
    const parent = await tempDir();
    for (let round = 0; round < 2000; round++) {
      const dataDir = path.join(parent, String(round));
      const results = await Promise.all([1, 2, 3, 4].map(() => loadOrCreateDevMasterSecret(dataDir)));
      const secrets = new Set(results.map((result) => result.secret));
      assert.equal(secrets.size, 1, `round ${round}: ${JSON.stringify(results)}`);
      assert.ok(results[0]!.secret.length >= 32, `round ${round}: secret of ${results[0]!.secret.length} characters`);
      assert.equal(results.filter((result) => result.created).length, 1, `round ${round}: exactly one created it`);
    }
  });

  test('a master.key too short to be a secret is never returned as one', async () => {
    for (const content of ['', '\n', 'short\n']) {
      const dataDir = await tempDir();
      await writeFile(path.join(dataDir, 'master.key'), content, { mode: 0o600 });
      const result = await loadOrCreateDevMasterSecret(dataDir).then(
        (value) => value,
        () => undefined,
      );
      // Refusing (rejecting) is acceptable; handing back a short secret is not.
      if (result !== undefined) {
        assert.ok(result.secret.length >= 32, `content ${JSON.stringify(content)} gave a secret of ${result.secret.length} characters`);
      }
    }
  });
});
