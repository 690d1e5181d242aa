import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { StartupError } from '../errors.ts';

const MIN_LENGTH = 32;

/**
 * Development only: reads the master secret generated into DATA_DIR on an earlier start,
 * or generates one (mode 0600). Production refuses to start without MASTER_SECRET, so
 * this never runs there (config enforces it).
 *
 * The file appears atomically, complete or not at all (written under a temporary name,
 * then hard-linked into place, which fails if another process got there first), so a
 * process starting alongside can never read a half-written secret.
 */
export async function loadOrCreateDevMasterSecret(dataDir: string): Promise<{ secret: string; created: boolean }> {
  const file = path.join(dataDir, 'master.key');
  const existing = await readSecret(file);
  if (existing !== undefined) return { secret: existing, created: false };

  await mkdir(dataDir, { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFile(temporary, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  try {
    await link(temporary, file);
    return { secret, created: true };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const winner = await readSecret(file);
    if (winner === undefined) throw corrupt(file);
    return { secret: winner, created: false };
  } finally {
    await unlink(temporary).catch(() => {});
  }
}

async function readSecret(file: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const secret = text.trim();
  if (secret.length < MIN_LENGTH) throw corrupt(file);
  return secret;
}

function corrupt(file: string): StartupError {
  return new StartupError(
    `${file} does not hold a master secret of at least ${MIN_LENGTH} characters; restore it, or delete it together with the data folder's database`,
  );
}
