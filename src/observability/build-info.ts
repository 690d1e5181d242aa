import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

// What is running, for portcullis_build_info{version,commit}: read once at start, never
// per scrape. The version is package.json's. The commit is PORTCULLIS_COMMIT when set (the
// image is built with `--build-arg PORTCULLIS_COMMIT=$(git rev-parse HEAD)`, since it holds
// no .git), else the checkout's HEAD as git reports it once now, else "unknown".

export interface BuildInfo {
  readonly version: string;
  readonly commit: string;
}

const ROOT = new URL('../../', import.meta.url);
const COMMIT = /^[0-9a-f]{7,64}$/;

export function readBuildInfo(env: Readonly<Record<string, string | undefined>> = process.env, root: URL = ROOT): BuildInfo {
  return Object.freeze({ version: packageVersion(root), commit: commitOf(env, root) });
}

function packageVersion(root: URL): string {
  try {
    const { version } = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { version?: unknown };
    return typeof version === 'string' && version ? version : 'unknown';
  } catch {
    return 'unknown';
  }
}

function commitOf(env: Readonly<Record<string, string | undefined>>, root: URL): string {
  const given = env.PORTCULLIS_COMMIT?.trim().toLowerCase();
  // A label value an operator typed: kept only when it looks like a commit, so it stays bounded.
  if (given) return COMMIT.test(given) ? given : 'unknown';
  try {
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, timeout: 2_000, stdio: ['ignore', 'pipe', 'ignore'], encoding: 'utf8' }).trim();
    return COMMIT.test(head) ? head : 'unknown';
  } catch {
    // No git, or not a checkout (an image, an npm tarball).
    return 'unknown';
  }
}
