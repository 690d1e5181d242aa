import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';

import { StartupError } from '../errors.ts';

export const ENV_FILE_NAME = '.env';

/**
 * Reads `.env` from `dir` (the working directory) into `env`, the Node convention the
 * server and the CLI share so that both see one configuration. A variable the real
 * environment already has wins over the file, even when empty (as with `node --env-file`
 * and Docker). Returns the file's path when one was read.
 */
export function loadEnvFile(dir: string = process.cwd(), env: NodeJS.ProcessEnv = process.env): string | undefined {
  const file = path.resolve(dir, ENV_FILE_NAME);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new StartupError(`${file}: cannot read it (${code ?? (error as Error).message}); fix its permissions or remove it`, { cause: error });
  }
  for (const [name, value] of Object.entries(parseEnv(text))) {
    if (env[name] === undefined && value !== undefined) env[name] = value;
  }
  return file;
}
