// `npm start`: the compiled server (scripts/ensure-built.mjs), built first if src/ changed.
import module from 'node:module';
import { ensureBuilt } from './ensure-built.mjs';

ensureBuilt();
// Node 22 keeps V8's compiled code of dist/ on disk (in the temp folder), so every start after
// the first skips most of the compiling; Node 20 has no such cache and starts as before.
module.enableCompileCache?.();
await import('../dist/main.js');
