import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';

import { readBuildInfo } from '../../src/observability/build-info.ts';

// portcullis_build_info's labels: read once at start from package.json, PORTCULLIS_COMMIT
// or the checkout, and "unknown" rather than a failed start when neither says.

test('PORTCULLIS_COMMIT names the commit; package.json the version', () => {
  const info = readBuildInfo({ PORTCULLIS_COMMIT: ' ABCDEF1234567 ' });
  assert.equal(info.commit, 'abcdef1234567');
  assert.match(info.version, /^\d+\.\d+\.\d+/);
});

test('a PORTCULLIS_COMMIT that is not a commit id becomes "unknown", so the label stays bounded', () => {
  assert.equal(readBuildInfo({ PORTCULLIS_COMMIT: 'latest; rm -rf /' }).commit, 'unknown');
});

test('outside a git checkout and without PORTCULLIS_COMMIT, the commit is "unknown"; without package.json, the version too', async () => {
  const folder = await mkdtemp(join(tmpdir(), 'portcullis-build-info-'));
  try {
    const root = pathToFileURL(`${folder}/`);
    assert.deepEqual(readBuildInfo({}, root), { version: 'unknown', commit: 'unknown' });
    await writeFile(join(folder, 'package.json'), JSON.stringify({ version: '9.8.7' }));
    assert.deepEqual(readBuildInfo({}, root), { version: '9.8.7', commit: 'unknown' });
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
});
