import { closedLoop, type Statuses } from './load.ts';
import { median } from './measure.ts';
import type { Operation } from './ops.ts';
import type { Target } from './target.ts';

// How throughput grows with a second instance on the same database (issue 10's "scale"):
// the same closed-loop load, alternately on one instance with every connection and on two
// instances with half the connections each, round after round. Both instances keep
// running throughout, so the one-instance rounds pay for an idle second instance too.
// No CPU figures here: two processes on a two-core machine share it with Postgres, and
// what is asked is requests per second.

export interface ScaleRound {
  readonly one: number;
  readonly two: number;
  readonly statuses: { readonly one: Statuses; readonly two: Statuses };
}

export interface ScaleResult {
  readonly rounds: readonly ScaleRound[];
  readonly oneMedian: number;
  readonly twoMedian: number;
  /** Two instances' requests per second over one's, medians over the rounds. */
  readonly gain: number;
}

function merge(into: Statuses, from: Statuses): Statuses {
  for (const [status, count] of Object.entries(from)) into[status] = (into[status] ?? 0) + count;
  return into;
}

export async function measureScale(
  operation: Operation,
  [first, second]: readonly [Target, Target],
  options: { connections: number; seconds: number; rounds: number },
  progress: (line: string) => void,
): Promise<ScaleResult> {
  const half = Math.max(1, Math.floor(options.connections / 2));
  const rounds: ScaleRound[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    const one = await closedLoop(operation, first, { connections: options.connections, seconds: options.seconds });
    const [a, b] = await Promise.all([
      closedLoop(operation, first, { connections: half, seconds: options.seconds }),
      closedLoop(operation, second, { connections: options.connections - half, seconds: options.seconds }),
    ]);
    const result: ScaleRound = {
      one: one.operations / one.seconds,
      two: a.operations / a.seconds + b.operations / b.seconds,
      statuses: { one: one.statuses, two: merge(merge({}, a.statuses), b.statuses) },
    };
    progress(`scale round ${round}: one instance ${result.one.toFixed(0)}/s, two ${result.two.toFixed(0)}/s`);
    rounds.push(result);
  }
  const oneMedian = median(rounds.map((r) => r.one));
  const twoMedian = median(rounds.map((r) => r.two));
  return { rounds, oneMedian, twoMedian, gain: twoMedian / oneMedian };
}
