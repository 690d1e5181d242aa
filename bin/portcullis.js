#!/usr/bin/env node
// The `portcullis` command as installed by npm: the compiled CLI (dist/cli/main.js), built
// first if src/ changed since the last build (scripts/ensure-built.mjs).
import module from 'node:module';

import { ensureBuilt } from '../scripts/ensure-built.mjs';

ensureBuilt();
// Node 22 keeps V8's compiled code of dist/ on disk (in the temp folder), so every start after
// the first skips most of the compiling; Node 20 has no such cache and starts as before.
module.enableCompileCache?.();
await import('../dist/cli/main.js');
