import assert from 'node:assert/strict';
import { test } from 'node:test';

import { createBoundedQueue } from '../../src/mail/index.ts';

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

test('works on at most `concurrency` items at once, takes at most `maxQueued` waiting, and refuses once closed', async () => {
  const started: number[] = [];
  const release = gate();
  const queue = createBoundedQueue<number>({ maxQueued: 2, concurrency: 2, work: async (n) => (started.push(n), await release.opened), onError: () => undefined });
  assert.deepEqual([1, 2, 3, 4, 5].map((n) => queue.push(n)), [true, true, true, true, false]);
  assert.deepEqual(started, [1, 2]);
  assert.equal(queue.waiting, 2);
  queue.close();
  assert.equal(queue.push(6), false);
  release.open();
  await queue.idle();
  assert.deepEqual(started, [1, 2, 3, 4], 'what was taken before closing is still worked on');
});

test('a failure goes to onError and the queue carries on; dropWaiting forgets what has not started', async () => {
  const errors: unknown[] = [];
  const release = gate();
  const done: string[] = [];
  const queue = createBoundedQueue<string>({
    maxQueued: 10,
    concurrency: 1,
    work: async (item) => {
      await release.opened;
      if (item === 'bad') throw new Error('boom');
      done.push(item);
    },
    onError: (error, item) => errors.push([item, (error as Error).message]),
  });
  for (const item of ['bad', 'never', 'dropped']) queue.push(item);
  assert.equal(queue.dropWaiting(), 2, 'the two not yet started');
  release.open();
  await queue.idle();
  assert.deepEqual(errors, [['bad', 'boom']]);
  assert.equal(queue.push('after'), true, 'a failure does not stop the queue');
  await queue.idle();
  assert.deepEqual(done, ['after']);
});
