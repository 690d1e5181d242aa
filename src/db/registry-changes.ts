import pg from 'pg';

import type { Logger } from '../observability/index.ts';

// Tells this instance when the registry (clients, resource servers, scopes) changed, so it
// can keep the registry in memory. A trigger on those tables (migration
// registry_change_feed) NOTIFYs `portcullis_registry` after every write, whoever made it:
// another instance, the CLI, an operator's SQL. This holds one connection of its own
// LISTENing on that channel. The signing and cookie keys ride the same feed (migration
// announced_key_rotation): a key change also drops the cached registry, which is rare and cheap.
//
// Promises:
// - `isLive()` is true only while the connection is listening and its last heartbeat
//   answered: a change made meanwhile reaches `onChange` within the notification's delay
//   (milliseconds). A cache must serve nothing while it is false.
// - Losing the connection, and regaining it, both call `onChange`: anything may have
//   changed unseen in between. It reconnects by itself (backoff up to 30 s), never throws.
// - A connection that hangs without closing (a network partition) is found by the
//   heartbeat (every `heartbeatMs`, failed after `heartbeatMs` more) and dropped.
// - The heartbeat reads the trigger's counter (registry_version) too: a change whose
//   notification never came (a transaction-mode pooler in between) is still reported
//   within one heartbeat, and logged as an error, since the feed is then not doing its job.

export const REGISTRY_CHANNEL = 'portcullis_registry';

export interface RegistryChanges {
  isLive(): boolean;
  onChange(listener: () => void): void;
  /** Connects and listens (the first connection is awaited, failures only logged). */
  start(): Promise<void>;
  close(): Promise<void>;
}

export interface RegistryChangesOptions {
  readonly url: string;
  readonly logger: Logger;
  readonly heartbeatMs?: number;
}

const MAX_BACKOFF_MS = 30_000;

async function readVersion(client: pg.Client): Promise<string | undefined> {
  const { rows } = await client.query<{ version: string }>('SELECT version FROM registry_version WHERE id = 1');
  return rows[0]?.version;
}

export function createRegistryChanges(options: RegistryChangesOptions): RegistryChanges {
  const { logger } = options;
  const heartbeatMs = options.heartbeatMs ?? 10_000;
  const listeners: (() => void)[] = [];
  let client: pg.Client | undefined;
  let live = false;
  let closed = false;
  let failures = 0;
  /** The counter as last read, and whether a notification came since. */
  let version: string | undefined;
  let heardSinceRead = false;
  let retry: NodeJS.Timeout | undefined;
  let heartbeat: NodeJS.Timeout | undefined;

  const changed = () => {
    for (const listener of listeners) listener();
  };

  function lose(which: pg.Client, reason: string) {
    if (which !== client) return;
    client = undefined;
    clearInterval(heartbeat);
    which.removeAllListeners();
    which.on('error', () => {});
    void which.end().catch(() => {});
    if (live) logger.warn({ reason }, 'registry change feed lost: the registry is read from the database until it is back');
    live = false;
    changed();
    if (!closed) {
      const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** failures++);
      retry = setTimeout(() => void connect(), delay);
      retry.unref();
    }
  }

  async function connect(): Promise<void> {
    if (closed) return;
    const next = new pg.Client({ connectionString: options.url, keepAlive: true, connectionTimeoutMillis: 5_000 });
    client = next;
    next.on('error', (error) => lose(next, error.message));
    next.on('end', () => lose(next, 'connection closed'));
    next.on('notification', (message) => {
      if (message.channel !== REGISTRY_CHANNEL) return;
      heardSinceRead = true;
      changed();
    });
    try {
      await next.connect();
      await next.query(`LISTEN ${REGISTRY_CHANNEL}`);
      version = await readVersion(next);
      heardSinceRead = false;
    } catch (error) {
      lose(next, (error as Error).message);
      return;
    }
    if (next !== client || closed) return;
    failures = 0;
    live = true;
    // Whatever was cached before now was read without a listener.
    changed();
    heartbeat = setInterval(() => {
      const timer = setTimeout(() => lose(next, 'heartbeat timed out'), heartbeatMs);
      readVersion(next).then(
        (now) => {
          clearTimeout(timer);
          if (now === version) return;
          if (!heardSinceRead) logger.error({ channel: REGISTRY_CHANNEL }, 'the registry changed without a notification: is DATABASE_URL a transaction-mode pooler? dropping the cached registry');
          version = now;
          heardSinceRead = false;
          changed();
        },
        (error: Error) => {
          clearTimeout(timer);
          lose(next, error.message);
        },
      );
    }, heartbeatMs);
    heartbeat.unref();
  }

  return {
    isLive: () => live,
    onChange(listener) {
      listeners.push(listener);
    },
    start: () => connect(),
    async close() {
      closed = true;
      clearTimeout(retry);
      clearInterval(heartbeat);
      const current = client;
      client = undefined;
      live = false;
      if (current) {
        current.removeAllListeners();
        current.on('error', () => {});
        await current.end().catch(() => {});
      }
    },
  };
}
