import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Asks until `holds` answers true, and fails after `withinMs`: for what another instance
 * or process changes and this one learns of through a feed (the registry cache's promise
 * is one second, README "Many instances").
 */
export async function eventually(holds: () => Promise<boolean>, what: string, withinMs = 1_000): Promise<void> {
  const started = Date.now();
  while (!(await holds())) {
    if (Date.now() - started > withinMs) assert.fail(`${what}: not within ${withinMs} ms`);
    await sleep(10);
  }
}
