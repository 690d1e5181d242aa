import { setTimeout as sleep } from 'node:timers/promises';

import type { Logger } from '../observability/index.ts';
import { createBoundedQueue } from './bounded-queue.ts';
import type { Deliver, MailMessage } from './mail-message.ts';

// Mail leaves in the background: a page hands its message over and answers at once, so a
// slow or absent mail server never holds a person's page (and never tells, by its delay,
// whether a message was sent at all). The queue is bounded: past `maxQueued` waiting
// messages a new one is dropped and logged, rather than memory growing while the server
// is away. A transient failure (a connection that failed or timed out, a 4xx reply) is
// tried again after a growing wait, up to `attempts` in all; a permanent one (a 5xx reply:
// a refused recipient, a wrong password) is logged at once and not repeated. Logs name the
// message's kind, never its recipient or its link.

export interface Mailer {
  /** Queues the message; false when the queue is full (the message is dropped, logged). */
  send(message: MailMessage): boolean;
  /** Resolves when nothing is queued or being sent (tests, and shutdown). */
  idle(): Promise<void>;
  /** Stops taking messages, cuts the waits between attempts, and waits for sends under way. */
  close(): Promise<void>;
}

export interface SendQueueOptions {
  readonly deliver: Deliver;
  readonly logger: Logger;
  /** Messages waiting at most (default 1,000). */
  readonly maxQueued?: number;
  /** Sends at once at most (default 2). */
  readonly concurrency?: number;
  /** Tries of one message in all (default 4). */
  readonly attempts?: number;
  /** Milliseconds to wait before try `n + 1` (n from 1); default 2 s, 10 s, 60 s. */
  readonly backoffMs?: (attempt: number) => number;
}

const DEFAULT_BACKOFF = [2_000, 10_000, 60_000];

/** SMTP's own rule: a 5xx reply is permanent, anything else (4xx, no reply at all) may pass. */
export function isTransient(error: unknown): boolean {
  const code = (error as { responseCode?: unknown } | null)?.responseCode;
  return !(typeof code === 'number' && code >= 500 && code < 600);
}

export function createSendQueue(options: SendQueueOptions): Mailer {
  const { deliver, logger } = options;
  const maxQueued = options.maxQueued ?? 1_000;
  const concurrency = options.concurrency ?? 2;
  const attempts = options.attempts ?? 4;
  const backoffMs = options.backoffMs ?? ((attempt: number) => DEFAULT_BACKOFF[Math.min(attempt, DEFAULT_BACKOFF.length) - 1]!);
  const closing = new AbortController();

  async function sendOne(message: MailMessage): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await deliver(message);
        logger.info({ mail: message.kind, attempt }, 'mail sent');
        return;
      } catch (error) {
        const reason = describe(error);
        if (!isTransient(error) || attempt >= attempts || closing.signal.aborted) {
          logger.error({ mail: message.kind, attempt, reason }, 'mail not sent: giving up');
          return;
        }
        const wait = backoffMs(attempt);
        logger.warn({ mail: message.kind, attempt, reason, retryInMs: wait }, 'mail not sent: will try again');
        try {
          await sleep(wait, undefined, { signal: closing.signal });
        } catch {
          logger.error({ mail: message.kind, attempt }, 'mail not sent: shutting down');
          return;
        }
      }
    }
  }

  // sendOne logs its own failures and never throws.
  const queue = createBoundedQueue<MailMessage>({ maxQueued, concurrency, work: sendOne, onError: () => undefined });

  return {
    send(message) {
      if (!queue.push(message)) {
        logger.error({ mail: message.kind, queued: queue.waiting }, 'mail dropped: the send queue is full or closed');
        return false;
      }
      return true;
    },
    idle: () => queue.idle(),
    async close() {
      queue.close();
      closing.abort();
      // What waits was never tried: it cannot be sent once the process is gone.
      const dropped = queue.dropWaiting();
      if (dropped > 0) logger.error({ dropped }, 'mail dropped at shutdown');
      await queue.idle();
    },
  };
}

/** What a failure says, without anything a server may have echoed of the message or credentials. */
function describe(error: unknown): string {
  const e = error as { code?: unknown; responseCode?: unknown; command?: unknown } | null;
  const parts = [e?.code, e?.responseCode, e?.command].filter((part) => typeof part === 'string' || typeof part === 'number');
  return parts.length > 0 ? parts.join(' ') : error instanceof Error ? error.name : 'unknown';
}
