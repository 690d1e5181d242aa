import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { isQuietlySupportedRuntime, isRuntimeNotice, RUNTIME_NOTICE } from '../../src/oidc/quiet-runtime-notice.ts';
import { PROJECT_ROOT } from '../helpers/run-cli.ts';

// Node 20.19+ is supported (package.json engines, README), so loading the engine there
// prints nothing; the engine's notice is dropped exactly, and only while it loads.

function runModule(source: string): { stderr: string; status: number | null } {
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', source], { cwd: PROJECT_ROOT, encoding: 'utf8' });
  return { stderr: result.stderr, status: result.status };
}

test('the releases we support quietly are 20.19 and later 20.x, as package.json engines says', () => {
  const engines = (JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
  assert.equal(engines, '>=20.19');
  assert.equal(isQuietlySupportedRuntime('20.19.0'), true);
  assert.equal(isQuietlySupportedRuntime('20.20.2'), true);
  assert.equal(isQuietlySupportedRuntime('20.18.3'), false);
  assert.equal(isQuietlySupportedRuntime('18.20.0'), false);
  assert.equal(isQuietlySupportedRuntime('22.12.0'), false, 'the engine supports 22 itself: nothing to drop');
});

test('only the exact notice, coloured or not, is recognised', () => {
  assert.equal(isRuntimeNotice([RUNTIME_NOTICE]), true);
  assert.equal(isRuntimeNotice([`\x1b[31;1m${RUNTIME_NOTICE}\x1b[0m`]), true);
  assert.equal(isRuntimeNotice(['oidc-provider WARNING: something else']), false);
  assert.equal(isRuntimeNotice([RUNTIME_NOTICE, 'more']), false);
});

test(`loading the engine through src/oidc prints nothing on this runtime (Node ${process.versions.node})`, () => {
  const { stderr, status } = runModule("await import('./src/oidc/engine.ts');");
  assert.equal(status, 0, stderr);
  assert.equal(stderr, '');
});

test('loading oidc-provider directly prints the notice on Node 20 (so the test above can fail there), nothing on Node 22', () => {
  const { stderr } = runModule("await import('oidc-provider');");
  if (isQuietlySupportedRuntime()) assert.equal(stderr.trim(), RUNTIME_NOTICE);
  else assert.doesNotMatch(stderr, /Unsupported runtime/, 'a runtime the engine supports gets no notice at all');
});

test('other warnings still show, and the notice itself once the engine has loaded', () => {
  const { stderr } = runModule(
    `await import('./src/oidc/engine.ts'); console.warn('oidc-provider WARNING: something else'); console.warn(${JSON.stringify(RUNTIME_NOTICE)});`,
  );
  assert.equal(stderr, `oidc-provider WARNING: something else\n${RUNTIME_NOTICE}\n`);
});
