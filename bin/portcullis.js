#!/usr/bin/env node
// The `portcullis` command as installed by npm: the compiled CLI (dist/cli/main.js), built
// first if src/ changed since the last build (scripts/ensure-built.mjs).
import { ensureBuilt } from '../scripts/ensure-built.mjs';

ensureBuilt();
await import('../dist/cli/main.js');
