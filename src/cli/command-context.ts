import type { Command } from 'commander';

import type { AuditSink } from '../audit/index.ts';
import type { Runtime } from '../boot.ts';
import type { Config } from '../config/index.ts';
import type { Services } from '../services.ts';
import type { Output } from './output.ts';

/** What a command's action works with: the same services the HTTP surfaces use. */
export interface CommandContext {
  readonly config: Config;
  readonly runtime: Runtime;
  readonly services: Services;
  /** What a command records itself (what the services do, they record): actor cli, the operator in data. */
  readonly audit: AuditSink;
  readonly out: Output;
}

/**
 * Opens the runtime, runs the action, and closes the runtime whatever happens. Commands
 * validate what they can (flags, files) before calling it, so bad input never waits for
 * the database.
 */
export type Runner = (command: Command, action: (context: CommandContext) => Promise<void>) => Promise<void>;

/** Collects a repeatable option's values; undefined when the option is absent. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Drops undefined entries, so a partial update never overwrites a field with nothing. */
export function definedOnly<T extends Record<string, unknown>>(object: T): Partial<T> {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined)) as Partial<T>;
}
