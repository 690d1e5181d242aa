import { addressKey } from './address-key.ts';

// An operator's release of throttle blocks (`portcullis users unblock`), applied by the
// server that holds the counts. The CLI cannot reach a server's memory (nor should it need
// Redis), so it leaves the release in the database; a throttle looks for new releases when
// it is about to refuse someone (at most once a second, so a flood of refusals costs one
// small query a second, and nothing at all while nobody is refused), removes the counts
// they name from its store, and judges the attempt again.

/** A release as stored: an account (its email) or an address. */
export interface ReleaseRecord {
  readonly id: bigint;
  readonly subject: string | null;
  readonly address: string | null;
}

/** Where releases are read (db/throttle-releases.ts). */
export interface ReleaseSource {
  listAfter(afterId: bigint, since: Date): Promise<readonly ReleaseRecord[]>;
}

/** Which of a store's keys a release removes: glob patterns for Redis' SCAN, and the exact test. */
export interface KeySelection {
  readonly globs: readonly string[];
  matches(key: string): boolean;
}

export interface ReleaseFeed {
  /** Releases made since the last pull that found any; none when asked again within the interval. */
  pull(): Promise<readonly ReleaseRecord[]>;
}

export function createReleaseFeed(source: ReleaseSource, options: { windowMs: number; intervalMs?: number; now?: () => number }): ReleaseFeed {
  const now = options.now ?? Date.now;
  const intervalMs = options.intervalMs ?? 1_000;
  let cursor = 0n;
  let lastPull = -Infinity;
  let pending: Promise<readonly ReleaseRecord[]> | undefined;
  return {
    pull() {
      if (pending) return pending;
      if (now() - lastPull < intervalMs) return Promise.resolve([]);
      lastPull = now();
      // Older releases cannot matter: every count they could lift has expired with the window.
      pending = source
        .listAfter(cursor, new Date(now() - options.windowMs))
        .then((found) => {
          for (const release of found) if (release.id > cursor) cursor = release.id;
          return found;
        })
        .finally(() => {
          pending = undefined;
        });
      return pending;
    },
  };
}

/** Length of a hashed subject in a key (credential-throttle.ts: 22 base64url characters). */
const SUBJECT_LENGTH = 22;

/**
 * The counts a release lifts in one throttle's namespace: for an account, its pairs with
 * every address, its pace and its devices; for an address, its own count and its pairs
 * with every account. Trust (known addresses and devices) is kept.
 */
export function releasedKeys(namespace: string, release: { subjectHash?: string | undefined; address?: string | null | undefined }): KeySelection {
  const globs: string[] = [];
  const tests: ((key: string) => boolean)[] = [];
  if (release.subjectHash) {
    const h = release.subjectHash;
    globs.push(`${namespace}:s:${h}`, `${namespace}:p:${h}:*`, `${namespace}:v:${h}:*`);
    tests.push((key) => key === `${namespace}:s:${h}` || key.startsWith(`${namespace}:p:${h}:`) || key.startsWith(`${namespace}:v:${h}:`));
  }
  if (release.address) {
    const a = addressKey(release.address);
    const pair = `${namespace}:p:`;
    globs.push(`${namespace}:i:${a}`, `${pair}*:${a}`);
    tests.push(
      (key) =>
        key === `${namespace}:i:${a}` ||
        (key.startsWith(pair) && key[pair.length + SUBJECT_LENGTH] === ':' && key.slice(pair.length + SUBJECT_LENGTH + 1) === a),
    );
  }
  return { globs, matches: (key) => tests.some((test) => test(key)) };
}
