import { setTimeout as sleep } from 'node:timers/promises';

import type { Cluster } from './cluster.ts';
import { clientCredentials, introspect, refresh, type Credentials, type TokenReply } from './oauth.ts';

// A steady mix through nginx, as the fault scenarios describe it: services getting
// client-credentials tokens, apps rotating refresh tokens (one worker per chain, retrying a
// failed refresh with the same token, as a client does), resource servers introspecting
// what was issued. Everything received is kept, so a test can check afterwards that every
// token is still usable and nothing was issued twice.

export interface LoadOptions {
  readonly service: Credentials;
  readonly resource: string;
  readonly web: Credentials;
  readonly introspector: Credentials;
  /** The refresh tokens to rotate, one worker each. */
  readonly chains: readonly string[];
  readonly clientCredentialsWorkers?: number;
  readonly introspectionWorkers?: number;
  /**
   * A chain whose refresh token expired (invalid_grant) is replaced by a new sign-in's token
   * (a soak with short lifetimes); without it, a refused refresh is a failure and retried.
   */
  readonly renewChain?: () => Promise<string>;
  /** Pause of each worker between its requests (ms): a steady rate rather than a flood. */
  readonly pauseMs?: number;
}

export interface Failure {
  readonly kind: 'client_credentials' | 'refresh' | 'introspection';
  readonly at: number;
  readonly status: number | string;
  readonly upstream: string;
}

/** An access token received, and who may introspect it (the resource server for an API token, the client itself for its own). */
export interface Received {
  readonly token: string;
  readonly introspector: Credentials;
  /** When it was received (ms since the epoch). */
  readonly at: number;
}

export interface LoadRecord {
  readonly accessTokens: Received[];
  /** Each chain's refresh tokens in order received (the first is the one it started with). */
  readonly chains: string[][];
  /** Each rotated refresh token and every distinct successor it was answered with. */
  readonly successors: Map<string, Set<string>>;
  readonly failures: Failure[];
  /** Introspections of a token this run received that answered active: false (with its age then). */
  readonly inactive: { token: string; introspector: string; ageMs: number }[];
  /** Successful requests per upstream (host:port), with the time they were answered. */
  readonly served: { upstream: string; at: number; kind: Failure['kind'] }[];
  requests: number;
  /** Chains replaced through renewChain. */
  renewedChains: number;
}

export interface Load {
  readonly record: LoadRecord;
  /** Stops the workers and waits for their last requests. */
  stop(): Promise<LoadRecord>;
}

export function startLoad(cluster: Cluster, options: LoadOptions): Load {
  const pause = options.pauseMs ?? 20;
  const record: LoadRecord = {
    accessTokens: [],
    chains: options.chains.map((token) => [token]),
    successors: new Map(),
    failures: [],
    inactive: [],
    served: [],
    requests: 0,
    renewedChains: 0,
  };
  let running = true;
  const attempt = async (kind: Failure['kind'], call: () => Promise<TokenReply>, expected?: (reply: TokenReply) => boolean): Promise<TokenReply | undefined> => {
    record.requests++;
    try {
      const reply = await call();
      if (expected?.(reply)) return reply;
      if (reply.status === 200) {
        record.served.push({ upstream: reply.upstream, at: Date.now(), kind });
        return reply;
      }
      record.failures.push({ kind, at: Date.now(), status: reply.status, upstream: reply.upstream });
    } catch (error) {
      record.failures.push({ kind, at: Date.now(), status: (error as Error).message, upstream: '' });
    }
    return undefined;
  };

  const clientCredentialsWorker = async () => {
    while (running) {
      const reply = await attempt('client_credentials', () => clientCredentials(cluster, options.service, options.resource));
      if (reply) record.accessTokens.push({ token: reply.body.access_token as string, introspector: options.introspector, at: Date.now() });
      await sleep(pause);
    }
  };
  const expired = options.renewChain ? (reply: TokenReply) => reply.status === 400 && reply.body.error === 'invalid_grant' : undefined;
  const refreshWorker = async (first: string[]) => {
    let chain = first;
    while (running) {
      const current = chain.at(-1)!;
      const reply = await attempt('refresh', () => refresh(cluster, options.web, current), expired);
      if (reply && reply.status !== 200 && options.renewChain) {
        chain = [await options.renewChain()];
        record.chains.push(chain);
        record.renewedChains++;
        continue;
      }
      if (reply) {
        const next = reply.body.refresh_token as string;
        const seen = record.successors.get(current) ?? new Set<string>();
        seen.add(next);
        record.successors.set(current, seen);
        chain.push(next);
        record.accessTokens.push({ token: reply.body.access_token as string, introspector: options.web, at: Date.now() });
      }
      await sleep(reply ? pause : 100);
    }
  };
  const introspectionWorker = async () => {
    while (running) {
      // One of the last 100 received: recent enough to be alive even with short lifetimes.
      const recent = Math.min(100, record.accessTokens.length);
      const received = record.accessTokens[record.accessTokens.length - 1 - Math.floor(Math.random() * recent)];
      if (received) {
        const reply = await attempt('introspection', () => introspect(cluster, received.introspector, received.token));
        if (reply && reply.body.active !== true) record.inactive.push({ token: received.token.slice(0, 8), introspector: received.introspector.id, ageMs: Date.now() - received.at });
      }
      await sleep(pause);
    }
  };

  const workers = [
    ...Array.from({ length: options.clientCredentialsWorkers ?? 3 }, clientCredentialsWorker),
    ...record.chains.slice().map((chain) => refreshWorker(chain)),
    ...Array.from({ length: options.introspectionWorkers ?? 2 }, introspectionWorker),
  ];
  return {
    record,
    async stop() {
      running = false;
      await Promise.all(workers);
      return record;
    },
  };
}

/** Runs `check` over every item, `concurrency` at a time; the items it answered false for. */
export async function failing<T>(items: readonly T[], check: (item: T) => Promise<boolean>, concurrency = 12): Promise<T[]> {
  const failed: T[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        const item = items[next++]!;
        if (!(await check(item))) failed.push(item);
      }
    }),
  );
  return failed;
}
