// One Portcullis process per data folder. The embedded database has no lock of its own and
// two processes writing one PGlite folder corrupt it, so the folder is guarded by
// `<dataDir>/portcullis.lock`, created exclusively (`wx`) and holding its owner's pid.
//
// Promises:
// - While a live process holds the lock, acquiring it throws a StartupError naming the
//   folder and the pid.
// - A lock left by a dead process (SIGKILL, crash, power loss) is taken over. Two
//   processes racing for the same stale lock never both win: the stale file is removed
//   only under a second exclusive file (`portcullis.lock.takeover`), and only if it still
//   holds exactly what was judged stale; the lock itself is always (re)created with `wx`.
// - A recycled pid does not keep a folder locked: on Linux the holder's kernel start time
//   is recorded and compared (a restarted container's process is often the same pid 1).
// - `release()` removes the lock only if it is still ours, and is idempotent.

import { randomUUID } from 'node:crypto';
import { mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { StartupError } from '../errors.ts';

export const LOCK_FILE_NAME = 'portcullis.lock';

export interface DataFolderLock {
  /** Removes the lock file if it is still ours. Safe to call more than once. */
  release(): Promise<void>;
}

/** What the lock file holds (one JSON object). */
interface LockOwner {
  pid: number;
  /** Wall-clock start of the lock, for people reading the file. */
  startedAt: string;
  /** Informational only (see isHolderAlive). */
  host: string;
  /** Kernel start time of `pid` (Linux /proc, clock ticks since boot), to detect pid reuse. */
  processStart: string | null;
  /** Unique per acquisition, so release never removes another holder's lock. */
  token: string;
}

// A writer creates the file and fills it a moment later; an empty or partial file younger
// than this is someone mid-write, not a stale lock.
const PARTIAL_FILE_GRACE_MS = 2_000;
// A takeover holds its guard for a few milliseconds; one older than this was left by a
// process killed inside that window.
const TAKEOVER_GUARD_STALE_MS = 10_000;
const RETRY_DELAY_MS = 25;
const MAX_ATTEMPTS = 400; // about 10 s of contention before giving up

export async function acquireDataFolderLock(dataDir: string): Promise<DataFolderLock> {
  try {
    return await acquire(dataDir);
  } catch (error) {
    if (error instanceof StartupError) throw error;
    // File system trouble (permissions, read-only volume): say which folder and why.
    throw new StartupError(`DATA_DIR: cannot lock ${dataDir} (${errorCode(error)}); make it writable or set DATA_DIR`, {
      cause: error,
      details: { dataDir },
    });
  }
}

async function acquire(dataDir: string): Promise<DataFolderLock> {
  await mkdir(dataDir, { recursive: true });
  const lockPath = join(dataDir, LOCK_FILE_NAME);
  const owner: LockOwner = {
    pid: process.pid,
    startedAt: new Date().toISOString(),
    host: hostname(),
    processStart: await readProcessStart(process.pid),
    token: randomUUID(),
  };

  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
    if (await tryCreateLock(lockPath, owner)) return createRelease(lockPath, owner.token);

    const seen = await readLockFile(lockPath);
    if (seen === undefined) continue; // released between our create and our read: retry now

    const holder = parseOwner(seen.raw);
    if (holder === undefined) {
      // Empty or unparsable: a writer mid-write, or debris from a crash during that write.
      if (Date.now() - seen.mtimeMs < PARTIAL_FILE_GRACE_MS) {
        await sleep(RETRY_DELAY_MS);
        continue;
      }
    } else if (await isHolderAlive(holder)) {
      throw inUseError(dataDir, lockPath, holder);
    }

    await removeStaleLock(lockPath, seen);
  }
  throw new StartupError(
    `could not lock the data folder ${dataDir}: ${lockPath} keeps changing; is another Portcullis starting on it?`,
    { details: { dataDir, lockPath } },
  );
}

async function tryCreateLock(lockPath: string, owner: LockOwner): Promise<boolean> {
  let handle;
  try {
    handle = await open(lockPath, 'wx', 0o644);
  } catch (error) {
    if (hasCode(error, 'EEXIST')) return false;
    throw new StartupError(`DATA_DIR: cannot create ${lockPath} (${errorCode(error)}); make the folder writable or set DATA_DIR`, {
      cause: error,
    });
  }
  try {
    await handle.writeFile(`${JSON.stringify(owner)}\n`, 'utf8');
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await unlink(lockPath).catch(() => undefined);
    throw new StartupError(`DATA_DIR: cannot write ${lockPath} (${errorCode(error)}); make the folder writable or set DATA_DIR`, {
      cause: error,
    });
  }
  await handle.close();
  return true;
}

/**
 * Removes the lock at `lockPath` if it is still the very file judged stale (same content,
 * inode and mtime: a freshly re-created lock, even an empty one mid-write, never matches).
 * Runs under an exclusive guard file so that of two processes judging the same lock
 * stale, the second re-reads after the first has replaced it and finds a live holder.
 */
async function removeStaleLock(lockPath: string, stale: LockFileState): Promise<void> {
  const guardPath = `${lockPath}.takeover`;
  let guard;
  try {
    guard = await open(guardPath, 'wx', 0o644);
  } catch (error) {
    if (!hasCode(error, 'EEXIST')) throw error;
    // Someone else is taking over right now; look again shortly.
    const guardStat = await stat(guardPath).catch(() => undefined);
    if (guardStat !== undefined && Date.now() - guardStat.mtimeMs > TAKEOVER_GUARD_STALE_MS) {
      await unlink(guardPath).catch(() => undefined);
    } else {
      await sleep(RETRY_DELAY_MS);
    }
    return;
  }
  try {
    await guard.close();
    const current = await readLockFile(lockPath);
    if (
      current !== undefined &&
      current.raw === stale.raw &&
      current.ino === stale.ino &&
      current.mtimeMs === stale.mtimeMs
    ) {
      await unlink(lockPath);
    }
  } finally {
    await unlink(guardPath).catch(() => undefined);
  }
}

function createRelease(lockPath: string, token: string): DataFolderLock {
  let released: Promise<void> | undefined;
  return {
    release() {
      released ??= (async () => {
        const current = await readLockFile(lockPath);
        // Not ours any more (removed by hand and re-taken): leave it to its holder.
        if (current === undefined || parseOwner(current.raw)?.token !== token) return;
        await unlink(lockPath).catch((error: unknown) => {
          if (!hasCode(error, 'ENOENT')) throw error;
        });
      })();
      return released;
    },
  };
}

interface LockFileState {
  raw: string;
  ino: number;
  mtimeMs: number;
}

async function readLockFile(lockPath: string): Promise<LockFileState | undefined> {
  let handle;
  try {
    handle = await open(lockPath, 'r');
  } catch (error) {
    if (hasCode(error, 'ENOENT')) return undefined;
    throw error;
  }
  try {
    // Content and identity from one open file, not from two lookups of the path.
    const info = await handle.stat();
    const raw = await handle.readFile('utf8');
    return { raw, ino: info.ino, mtimeMs: info.mtimeMs };
  } finally {
    await handle.close();
  }
}

function parseOwner(raw: string): LockOwner | undefined {
  try {
    const value = JSON.parse(raw) as Partial<LockOwner> | null;
    if (value === null || typeof value !== 'object') return undefined;
    if (!Number.isSafeInteger(value.pid) || (value.pid ?? 0) <= 0) return undefined;
    return {
      pid: value.pid as number,
      startedAt: typeof value.startedAt === 'string' ? value.startedAt : '',
      host: typeof value.host === 'string' ? value.host : '',
      processStart: typeof value.processStart === 'string' ? value.processStart : null,
      token: typeof value.token === 'string' ? value.token : '',
    };
  } catch {
    return undefined;
  }
}

async function isHolderAlive(holder: LockOwner): Promise<boolean> {
  // The host is not compared: a container gets a new hostname on every restart, and a
  // lock left in a mounted volume must not keep the folder locked forever.
  if (holder.pid !== process.pid) {
    try {
      process.kill(holder.pid, 0);
    } catch (error) {
      if (hasCode(error, 'ESRCH')) return false;
      // EPERM: the pid exists but belongs to another user; go on to the start-time check.
    }
  }
  // Our own pid is not proof of ownership either (a container's main process is pid 1 on
  // every start): the start time tells this process from an earlier one with the same pid.
  if (holder.processStart === null) return true;
  const actualStart = await readProcessStart(holder.pid);
  return actualStart === null || actualStart === holder.processStart;
}

/** Start time of a process in clock ticks since boot (Linux), or null where unknown. */
async function readProcessStart(pid: number): Promise<string | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name (which may contain spaces); starttime
    // is field 22 overall, the 20th after the name.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

function inUseError(dataDir: string, lockPath: string, holder: LockOwner): StartupError {
  return new StartupError(
    `the data folder ${dataDir} is in use by another Portcullis process (pid ${holder.pid}); ` +
      'stop it first or set DATA_DIR',
    { details: { dataDir, lockPath, pid: holder.pid, host: holder.host, since: holder.startedAt } },
  );
}

function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? errorMessage(error);
}

function hasCode(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
