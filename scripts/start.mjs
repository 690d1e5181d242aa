// `npm start`: the compiled server (scripts/ensure-built.mjs), built first if src/ changed.
import { ensureBuilt } from './ensure-built.mjs';

ensureBuilt();
await import('../dist/main.js');
