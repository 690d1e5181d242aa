// `npm start`: the compiled server (scripts/ensure-built.mjs), built first if src/ changed.
import module from 'node:module';
import { fileURLToPath } from 'node:url';
import { ensureBuilt } from './ensure-built.mjs';

ensureBuilt();
// Node 22 keeps V8's compiled code of dist/ on disk, so every start after the first skips most
// of the compiling; Node 20 has no such cache and starts as before. In this install, not the
// shared temp folder: code read from there would run with the operator's secrets.
module.enableCompileCache?.(fileURLToPath(new URL('../node_modules/.cache/portcullis-compile/', import.meta.url)));
await import('../dist/main.js');
