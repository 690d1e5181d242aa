import { relative } from 'node:path';

// Reads a V8 CPU profile (node --cpu-prof) and names where the time went: the functions
// with the most self time, and the same time by package or source folder.

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  /** Microseconds of the system's monotonic clock (process.hrtime in any process on Linux). */
  readonly startTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface ProfileSummary {
  /** Sampled milliseconds, idle excluded. */
  readonly totalMs: number;
  readonly functions: readonly { readonly name: string; readonly where: string; readonly ms: number; readonly share: number }[];
  readonly areas: readonly { readonly area: string; readonly ms: number; readonly share: number }[];
}

function location(url: string, checkout: string): string {
  const path = url.replace(/^file:\/\//, '');
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(path);
  if (modules) return `${modules[1]}/${modules[2]}`;
  return path.startsWith('/') ? relative(checkout, path) : path;
}

/** A package (`oidc-provider`, `@prisma/client`), a source folder (`src/oidc`), `node:` internals, or V8's own. */
function areaOf(url: string, functionName: string, checkout: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return 'node: internals';
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (modules) return modules[1]!;
  const path = location(url, checkout);
  return path.split('/').slice(0, -1).join('/') || path;
}

/** Only the samples taken between `window.from` and `window.to` (monotonic microseconds) count. */
export function summarizeProfile(profile: CpuProfile, checkout: string, window: { from: number; to: number }, top = 25): ProfileSummary {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfMicros = new Map<number, number>();
  // timeDeltas[i] is the time before sample i; the time until the next one belongs to it.
  let time = profile.startTime;
  profile.samples.forEach((id, i) => {
    time += profile.timeDeltas[i] ?? 0;
    if (time >= window.from && time <= window.to) selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? 0));
  });

  const functions = new Map<string, { name: string; where: string; micros: number }>();
  const areas = new Map<string, number>();
  let total = 0;
  for (const [id, micros] of selfMicros) {
    const { functionName, url, lineNumber } = nodes.get(id)!.callFrame;
    if (functionName === '(idle)') continue;
    total += micros;
    const name = functionName || '(anonymous)';
    const where = url ? `${location(url, checkout)}:${lineNumber + 1}` : '';
    const key = `${name} ${where}`;
    const entry = functions.get(key) ?? { name, where, micros: 0 };
    entry.micros += micros;
    functions.set(key, entry);
    const area = areaOf(url, functionName, checkout);
    areas.set(area, (areas.get(area) ?? 0) + micros);
  }
  const share = (micros: number) => (total > 0 ? micros / total : 0);
  return {
    totalMs: total / 1000,
    functions: [...functions.values()]
      .sort((a, b) => b.micros - a.micros)
      .slice(0, top)
      .map(({ name, where, micros }) => ({ name, where, ms: micros / 1000, share: share(micros) })),
    areas: [...areas]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([area, micros]) => ({ area, ms: micros / 1000, share: share(micros) })),
  };
}
