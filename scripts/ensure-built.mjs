// The server (`npm start`), the `portcullis` command and the container image run the
// JavaScript compiled from src/ into dist/ (tsconfig.build.json): starting compiled code
// takes a fraction of the time and memory of transpiling TypeScript on every start. The
// build runs at install (postinstall); this also runs it before a start when any file
// under src/ changed since the last one, so an edited checkout never runs stale code.
// `node scripts/ensure-built.mjs` builds if needed; `--force` always.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SRC = join(ROOT, 'src');
/** Touched after every successful build: what src/ is compared with. */
const MARKER = join(ROOT, 'dist', '.built');

function newestSource() {
  // tsconfig.build.json extends tsconfig.json: a change to either changes what is emitted.
  let newest = Math.max(statSync(join(ROOT, 'tsconfig.build.json')).mtimeMs, statSync(join(ROOT, 'tsconfig.json')).mtimeMs);
  for (const entry of readdirSync(SRC, { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

export function isBuilt() {
  return existsSync(MARKER) && statSync(MARKER).mtimeMs >= newestSource();
}

/** Compiles src/ when dist/ is missing or older than it; exits the process on a failed build. */
export function ensureBuilt({ force = false } = {}) {
  if (!force && isBuilt()) return;
  let tsc;
  try {
    tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  } catch {
    // Installed without dev dependencies: run what was built, if anything was.
    if (existsSync(join(ROOT, 'dist', 'main.js'))) return;
    console.error('portcullis: dist/ is missing and TypeScript is not installed: run `npm install` (with dev dependencies) to build it');
    process.exit(1);
  }
  console.error('portcullis: compiling src/ into dist/ (it changed since the last build) ...');
  const result = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json')], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.status !== 0) {
    console.error('portcullis: the build failed (above); fix it, or run from source with `npm run dev`');
    process.exit(1);
  }
  writeFileSync(MARKER, `${new Date().toISOString()}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) ensureBuilt({ force: process.argv.includes('--force') });
