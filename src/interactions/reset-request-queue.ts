import { createBoundedQueue } from '../mail/index.ts';
import type { Logger } from '../observability/index.ts';

// The work behind "Forgot password?" and a sign-up request (find the account, store the
// link, queue the mail, record the audit event), done after the page has answered: an address with an account
// costs a lookup and an insert, one without only the lookup, and a page that waited for
// them would tell the two apart by its time. Bounded like the mail queue: past `maxQueued`
// waiting requests a new one is not taken (the caller records that it was dropped, and the
// queue logs it) rather than memory growing while the database is slow. A task's failure is
// logged (its error's name and code only: never an address), never thrown at a request.
// At shutdown the server stops listening first, then close() lets every task taken finish
// (the database is still open), so each one's audit event reaches the audit writer, which
// the runtime flushes after.

export interface ResetRequestQueue {
  /** Takes the task; false when full or closing (the task will not run: the caller says so). */
  run(task: () => Promise<void>): boolean;
  /** Resolves when nothing is queued or running (tests, and shutdown). */
  idle(): Promise<void>;
  /** Takes nothing more, and waits for every task taken. */
  close(): Promise<void>;
}

export function createResetRequestQueue(options: { logger: Logger; maxQueued?: number; concurrency?: number }): ResetRequestQueue {
  const { logger } = options;
  const queue = createBoundedQueue<() => Promise<void>>({
    maxQueued: options.maxQueued ?? 1_000,
    concurrency: options.concurrency ?? 4,
    work: (task) => task(),
    onError: (error) => logger.error({ reason: describe(error) }, 'password reset or sign-up request failed'),
  });
  return {
    run(task) {
      if (!queue.push(task)) {
        logger.error({ queued: queue.waiting, closing: queue.closed }, 'password reset or sign-up request dropped: the queue is full or closing');
        return false;
      }
      return true;
    },
    idle: () => queue.idle(),
    async close() {
      queue.close();
      await queue.idle();
    },
  };
}

/** What a failure was: its name and code, never its message (which may hold the address typed). */
function describe(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const name = error instanceof Error ? error.name : 'unknown';
  return typeof code === 'string' || typeof code === 'number' ? `${name} ${code}` : name;
}
