import { setTimeout as sleep } from 'node:timers/promises';

import { InvalidArgumentError, type Command } from 'commander';

import { AUDIT_EVENT_TYPES, isStorableTime, type AuditFilter, type AuditRecord, type AuditTrail } from '../audit/index.ts';
import { collect, type Runner } from './command-context.ts';
import { escapeControls, quoteValue, type Output } from './output.ts';

// `portcullis events`: the audit trail, filtered, newest last; --follow keeps printing.

interface EventsFlags {
  type?: string[];
  account?: string;
  client?: string;
  since?: Date;
  limit: number;
  follow?: boolean;
}

const FOLLOW_POLL_MS = 1_000;
/**
 * Ids are drawn when a row is inserted and become visible when its transaction commits,
 * so with several instances writing, a lower id can appear just after a higher one.
 * Following re-reads ids seen in the last few seconds instead of trusting the highest.
 */
const FOLLOW_SETTLE_MS = 5_000;
const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

export function parseSince(value: string, now = Date.now()): Date {
  const relative = /^(\d+)\s*([smhdw])$/.exec(value.trim());
  const date = relative ? new Date(now - Number(relative[1]) * (UNITS[relative[2] ?? 's'] ?? 1_000)) : new Date(value);
  if ((!relative && !/^\d{4}-\d{2}-\d{2}/.test(value)) || !isStorableTime(date)) {
    throw new InvalidArgumentError('expected an ISO date or time (2026-01-31, 2026-01-31T12:00:00Z) or a duration ago (30m, 12h, 7d)');
  }
  return date;
}

function parseLimit(value: string): number {
  const limit = Number(value);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new InvalidArgumentError('expected a whole number from 1 to 10000');
  return limit;
}

function quote(value: unknown): string {
  const list = Array.isArray(value) && value.every((item) => typeof item === 'string');
  const text = typeof value === 'string' ? value : list ? value.join(',') || '-' : JSON.stringify(value);
  return quoteValue(text);
}

/**
 * One line per event: time, type, then who/what/where and the event's facts as key=value.
 * Much of it was written by whoever sent the request (user agent, client id, email), so
 * every value is escaped: a forged event cannot erase, reorder or fake the lines around it.
 */
export function formatEvent(event: AuditRecord): string {
  const fields: string[] = [];
  const add = (key: string, value: unknown) => {
    if (value !== null && value !== undefined && value !== '') fields.push(`${key}=${quote(value)}`);
  };
  add('actor', event.actor);
  add('account', event.accountId);
  add('client', event.clientId);
  add('ip', event.ip);
  if (event.data !== null && typeof event.data === 'object') {
    for (const [key, value] of Object.entries(event.data)) add(key, value);
  }
  add('ua', event.userAgent);
  add('request', event.requestId);
  return `${escapeControls(event.time)}  ${escapeControls(event.type).padEnd(28)}  ${fields.join(' ')}`.trimEnd();
}

function print(out: Output, events: readonly AuditRecord[], stream: boolean): void {
  if (out.json) {
    // A stream cannot be one JSON array: --follow --json prints one JSON object per line.
    if (stream) for (const event of events) process.stdout.write(`${JSON.stringify(event)}\n`);
    else out.data(events);
    return;
  }
  if (events.length === 0 && !stream) out.line('(no events)');
  for (const event of events) out.line(formatEvent(event));
}

export function addEventsCommand(program: Command, run: Runner): void {
  program
    .command('events')
    .description('the audit trail: who did what, to which account or client, from where (newest last)')
    .option('--type <type>', 'only events of this type, or of a family with `login.*` (repeatable)', collect)
    .option('--account <id-or-email>', 'only events about this account')
    .option('--client <client-id>', 'only events about this client')
    .option('--since <when>', 'only events from this time on: an ISO date or time, or a duration ago (30m, 12h, 7d)', (value) =>
      parseSince(value),
    )
    .option('--limit <n>', 'at most this many events, the newest (1-10000)', parseLimit, 50)
    .option('-f, --follow', 'keep printing events as they are recorded, until Ctrl-C')
    .addHelpText(
      'after',
      `\nEvent types:\n${Object.entries(AUDIT_EVENT_TYPES)
        .map(([type, meaning]) => `  ${type.padEnd(30)}${meaning}`)
        .join('\n')}\n\nEvents older than EVENT_RETENTION_DAYS are purged by the server.`,
    )
    .action((options: EventsFlags, command: Command) =>
      run(command, async ({ services, out }) => {
        const trail = services.auditTrail;
        // An email is looked up (it is never stored in events); an id is taken as given,
        // so the trail of a deleted account can still be read.
        const accountId = options.account?.includes('@') ? (await services.accounts.get(options.account)).id : options.account;
        const filter: AuditFilter = {
          ...(options.type && { types: options.type }),
          ...(accountId && { accountId }),
          ...(options.client && { clientId: options.client }),
          ...(options.since && { since: options.since }),
        };
        const recent = await trail.list(filter, options.limit);
        print(out, recent, options.follow === true);
        if (options.follow) await follow(trail, filter, recent, out);
      }),
    );
}

async function follow(trail: AuditTrail, filter: AuditFilter, shown: readonly AuditRecord[], out: Output): Promise<void> {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // Ids above `settled` are read again on every poll (and printed once): an id counts as
  // settled once it was the highest in the table FOLLOW_SETTLE_MS ago.
  let settled = await trail.lastId();
  const seen = new Set(shown.map((event) => event.id));
  const marks: (readonly [number, bigint])[] = [];
  // On stderr: stdout carries only events, so it can be piped.
  process.stderr.write('portcullis: following new events (Ctrl-C to stop)\n');
  try {
    while (!stop.signal.aborted) {
      await sleep(FOLLOW_POLL_MS, undefined, { signal: stop.signal }).catch(() => undefined);
      if (stop.signal.aborted) break;
      const now = Date.now();
      const highest = await trail.lastId();
      const fresh = (await trail.listAfter(filter, settled, 1_000)).filter((event) => !seen.has(event.id));
      for (const event of fresh) seen.add(event.id);
      print(out, fresh, true);
      marks.push([now, highest]);
      while (marks[0] !== undefined && now - marks[0][0] >= FOLLOW_SETTLE_MS) {
        const [, id] = marks.shift()!;
        if (id > settled) settled = id;
      }
      for (const id of seen) if (BigInt(id) <= settled) seen.delete(id);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
