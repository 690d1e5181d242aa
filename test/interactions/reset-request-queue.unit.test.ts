import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';

import { createResetRequestQueue } from '../../src/interactions/reset-request-queue.ts';
import { createLogger } from '../../src/observability/logger.ts';

// The queue behind "Forgot password?": runs tasks after the page answered, bounded, a
// failure logged and never thrown at the caller, and at close every task taken finished.

function capture() {
  let text = '';
  const logger = createLogger({ level: 'debug', destination: new Writable({ write: (chunk: Buffer, _encoding, callback) => ((text += chunk.toString()), callback()) }) });
  return { logger, text: () => text };
}

test('takes a task without waiting for it, logs a failure without its message, and is bounded', async () => {
  const { logger, text } = capture();
  const queue = createResetRequestQueue({ logger, maxQueued: 2, concurrency: 1 });
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const done: string[] = [];
  assert.equal(queue.run(async () => {
      await held;
      done.push('first');
    }), true, 'taken, not awaited');
  assert.equal(queue.run(() => Promise.reject(Object.assign(new Error('no account for someone@example.com'), { code: 'P2025' }))), true);
  assert.equal(queue.run(() => Promise.resolve(void done.push('third'))), true);
  assert.equal(queue.run(() => Promise.resolve(void done.push('dropped'))), false, 'past two waiting, a task is refused');
  assert.deepEqual(done, []);
  release();
  await queue.idle();
  assert.deepEqual(done, ['first', 'third']);
  assert.match(text(), /password reset or sign-up request failed/);
  assert.match(text(), /P2025/);
  assert.ok(!text().includes('someone@example.com'), 'an error message may hold the address: never logged');
  assert.match(text(), /password reset or sign-up request dropped/);
});

test('close() lets every task taken finish, then takes no more', async () => {
  const { logger } = capture();
  const queue = createResetRequestQueue({ logger, concurrency: 1 });
  const done: number[] = [];
  for (let i = 0; i < 5; i++) 
    queue.run(async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      done.push(i);
    });
  await queue.close();
  assert.deepEqual(done, [0, 1, 2, 3, 4], 'nothing taken was lost at shutdown');
  assert.equal(queue.run(() => Promise.resolve(void done.push(99))), false);
});
