// oidc-provider 9 warns "Unsupported runtime" with console.warn as its module loads, on
// every Node release older than 22 LTS. Portcullis supports Node 20.19+ (package.json
// engines, README) and tests it there, so on those releases exactly that one line is
// dropped while the engine loads; every other warning, and the notice on any runtime we
// do not support, still shows. engine.ts imports this module just before the engine and
// calls restoreWarnings() right after.

/* eslint-disable no-console -- wrapping console.warn is what this module is for */

export const RUNTIME_NOTICE = 'oidc-provider WARNING: Unsupported runtime. Use Node.js v22.x LTS, or a later LTS release.';

/** Node 20.19 and later 20.x: what we support although the engine does not name it. */
export function isQuietlySupportedRuntime(version: string = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major === 20 && minor >= 19;
}

// The engine colours the line on a terminal.
const stripColour = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, ''); // eslint-disable-line no-control-regex

/** Whether console.warn's arguments are the engine's runtime notice, and nothing else. */
export function isRuntimeNotice(args: readonly unknown[]): boolean {
  return args.length === 1 && typeof args[0] === 'string' && stripColour(args[0]) === RUNTIME_NOTICE;
}

const original = console.warn;
if (isQuietlySupportedRuntime()) {
  console.warn = (...args: unknown[]) => {
    if (!isRuntimeNotice(args)) original.apply(console, args);
  };
}

/** Puts console.warn back once the engine has loaded. */
export function restoreWarnings(): void {
  console.warn = original;
}
