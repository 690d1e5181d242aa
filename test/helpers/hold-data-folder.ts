// A separate process holding a data folder, for tests that need a second real process.
//
//   hold-data-folder.ts database <dataDir>
//     Runs the embedded database like `npm start` would. Prints `ready <url>` when serving;
//     stops cleanly on SIGTERM or when its stdin closes (so it never outlives the test).
//   hold-data-folder.ts lock <dataDir> <startAtEpochMs> <holdMs>
//     Waits until startAtEpochMs, acquires the folder lock, prints `won`, holds it holdMs.
//
// A StartupError prints its message on stderr and exits with 1, as the server does.

import { setTimeout as sleep } from 'node:timers/promises';

import { acquireDataFolderLock } from '../../src/db/data-folder-lock.ts';
import { startEmbeddedDatabase } from '../../src/db/embedded-database.ts';
import { StartupError } from '../../src/errors.ts';

const [mode, dataDir, startAt, holdMs] = process.argv.slice(2);

async function holdDatabase(folder: string): Promise<void> {
  const database = await startEmbeddedDatabase({ dataDir: folder });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void database.stop().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.stdin.on('end', stop).on('close', stop).resume();
  console.log(`ready ${database.url}`);
}

async function holdLock(folder: string, at: number, hold: number): Promise<void> {
  await sleep(Math.max(0, at - Date.now()));
  const lock = await acquireDataFolderLock(folder);
  console.log('won');
  await sleep(hold);
  await lock.release();
}

try {
  if (mode === 'database' && dataDir !== undefined) await holdDatabase(dataDir);
  else if (mode === 'lock' && dataDir !== undefined) await holdLock(dataDir, Number(startAt), Number(holdMs));
  else throw new Error('usage: hold-data-folder.ts database <dir> | lock <dir> <startAtEpochMs> <holdMs>');
} catch (error) {
  console.error(error instanceof StartupError ? error.message : error);
  process.exit(1);
}
