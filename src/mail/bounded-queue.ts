// The worker pool behind the mail queue, and behind the reset pages' background work
// (interactions/reset-request-queue.ts): items wait in a bounded list, at most
// `concurrency` are worked on at once, and a full or closed queue takes nothing more
// (its caller says so), rather than memory growing while a server or database is slow.

export interface BoundedQueue<T> {
  /** Takes the item; false when the queue is full or closed (the item will not be worked on). */
  push(item: T): boolean;
  /** Items taken and not yet started. */
  readonly waiting: number;
  readonly closed: boolean;
  /** Takes nothing more; what was taken is still worked on. */
  close(): void;
  /** Forgets the items not yet started; how many there were. */
  dropWaiting(): number;
  /** Resolves when nothing waits or runs. */
  idle(): Promise<void>;
}

export interface BoundedQueueOptions<T> {
  readonly maxQueued: number;
  readonly concurrency: number;
  /** The work on one item; what it throws goes to `onError`, never further. */
  readonly work: (item: T) => Promise<void>;
  readonly onError: (error: unknown, item: T) => void;
}

export function createBoundedQueue<T>(options: BoundedQueueOptions<T>): BoundedQueue<T> {
  const { maxQueued, concurrency, work, onError } = options;
  const waiting: T[] = [];
  let active = 0;
  let closed = false;
  let idleWaiters: (() => void)[] = [];

  function settleIdle() {
    if (active > 0 || waiting.length > 0) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  async function runOne(item: T) {
    try {
      await work(item);
    } catch (error) {
      onError(error, item);
    } finally {
      active -= 1;
      pump();
      settleIdle();
    }
  }

  function pump() {
    while (active < concurrency && waiting.length > 0) {
      active += 1;
      void runOne(waiting.shift()!);
    }
  }

  return {
    push(item) {
      if (closed || waiting.length >= maxQueued) return false;
      waiting.push(item);
      pump();
      return true;
    },
    get waiting() {
      return waiting.length;
    },
    get closed() {
      return closed;
    },
    close() {
      closed = true;
    },
    dropWaiting() {
      const dropped = waiting.length;
      waiting.length = 0;
      settleIdle();
      return dropped;
    },
    idle: () =>
      new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        settleIdle();
      }),
  };
}
