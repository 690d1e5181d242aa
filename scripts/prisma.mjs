// Runs the Prisma CLI offline-safe. The CLI downloads its native schema engine on every
// command unless told where one is; `generate`, `validate` and `format` never use it, so
// a placeholder path keeps them working on machines without network or the binary.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const env = { ...process.env };
env.PRISMA_SCHEMA_ENGINE_BINARY ??= '/bin/false';
env.PRISMA_HIDE_UPDATE_MESSAGE ??= '1';
env.CHECKPOINT_DISABLE ??= '1';

const cli = require.resolve('prisma/build/index.js');
const result = spawnSync(process.execPath, [cli, ...process.argv.slice(2)], { stdio: 'inherit', env });
process.exit(result.status ?? 1);
