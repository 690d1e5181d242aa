import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { createCredentialThrottle as createLoginThrottle, delayMs, type AuthAttempt, type ThrottleVerdict } from '../../src/abuse/credential-throttle.ts';
import { createMemoryThrottleStore } from '../../src/abuse/credential-throttle-store.ts';
import type { AuthThrottleConfig } from '../../src/config/index.ts';

const POLICY: AuthThrottleConfig = {
  freeFailures: 3,
  blockAfter: 10,
  ipFreeFailures: 20,
  ipBlockAfter: 100,
  subjectFreeFailures: 20,
  maxDelay: 60,
  window: 900,
};

function setup(policy: AuthThrottleConfig = POLICY) {
  let clock = 1_000_000;
  const blocks: { scope: string; ip: string }[] = [];
  const throttle = createLoginThrottle({
    policy,
    store: createMemoryThrottleStore({ maxKeys: 10_000 }),
    namespace: 'login',
    now: () => clock,
    onBlocked: (attempt, block) => blocks.push({ scope: block.scope, ip: attempt.ip }),
  });
  return {
    throttle,
    blocks,
    advance: (ms: number) => {
      clock += ms;
    },
    /** One try: refused, or checked and wrong. */
    fail: async (attempt: AuthAttempt): Promise<ThrottleVerdict> => {
      const verdict = await throttle.check(attempt);
      if (verdict.allowed) await throttle.recordFailure(attempt);
      return verdict;
    },
  };
}

const ann = (ip = '198.51.100.1', device?: string): AuthAttempt => ({ subject: 'ann@example.com', ip, device });

describe('the failed-authentication throttle', () => {
  test('delays double from 1 s after the free failures, up to the ceiling', () => {
    assert.deepEqual([0, 1, 2, 3, 4, 7, 20].map((n) => delayMs(n, 60)), [0, 1000, 2000, 4000, 8000, 60_000, 60_000]);
  });

  test('the first failures are free; then each retry must wait, and says how long', async () => {
    const { fail, advance } = setup();
    for (let i = 0; i < 3; i++) assert.equal((await fail(ann())).allowed, true);
    advance(500);
    // Too early: refused unchecked, and counted, so the wait it reports has doubled.
    assert.deepEqual(await fail(ann()), { allowed: false, scope: 'pair', blocked: false, retryAfterSeconds: 2 });
    advance(2000);
    assert.equal((await fail(ann())).allowed, true, 'a retry after the wait is checked');
    const next = await fail(ann());
    assert.deepEqual(next, { allowed: false, scope: 'pair', blocked: false, retryAfterSeconds: 8 });
  });

  test('a script ignoring Retry-After blocks its address for that account, and only that account', async () => {
    const { fail, throttle, blocks } = setup();
    const verdicts: ThrottleVerdict[] = [];
    for (let i = 0; i < 50; i++) verdicts.push(await fail(ann('203.0.113.9')));
    const last = verdicts.at(-1)!;
    assert.equal(last.allowed, false);
    assert.equal(!last.allowed && last.blocked, true);
    assert.equal(!last.allowed && last.scope, 'pair');
    assert.equal(!last.allowed && last.retryAfterSeconds, 900);
    assert.equal(verdicts.filter((v) => v.allowed).length, 3, 'only the free failures reached the password check');
    assert.deepEqual(blocks, [{ scope: 'pair', ip: '203.0.113.9' }], 'one block event');
    // The right password from there is refused too (the check comes first)...
    assert.equal((await throttle.check(ann('203.0.113.9'))).allowed, false);
    // ...while the same address may still sign in to other accounts, and Ann elsewhere.
    assert.equal((await throttle.check({ subject: 'bob@example.com', ip: '203.0.113.9' })).allowed, true);
    assert.equal((await throttle.check(ann('198.51.100.77'))).allowed, true);
  });

  test('a block ends a window after the last counted failure', async () => {
    const { fail, throttle, advance } = setup();
    for (let i = 0; i < 20; i++) await fail(ann());
    assert.equal((await throttle.check(ann())).allowed, false);
    advance(899_000);
    assert.equal((await throttle.check(ann())).allowed, false);
    advance(2_000);
    assert.equal((await throttle.check(ann())).allowed, true);
  });

  test('200 wrong passwords from 200 addresses slow strangers down but never the owner on a known address or device', async () => {
    const { fail, throttle, advance } = setup();
    // Ann signed in from home on her laptop last week.
    await throttle.recordSuccess(ann('192.0.2.10', 'laptop-device-id-0123456789'));
    advance(7 * 24 * 3600 * 1000);

    let checked = 0;
    for (let i = 0; i < 200; i++) {
      const verdict = await fail(ann(`10.0.${Math.floor(i / 250)}.${i % 250}`));
      if (verdict.allowed) checked++;
      advance(100);
    }
    assert.ok(checked < 40, `only ${checked} of 200 guesses reached the password check`);
    // A new address without history waits (never a block)...
    const stranger = await throttle.check(ann('198.51.100.200'));
    assert.equal(stranger.allowed, false);
    assert.equal(!stranger.allowed && stranger.blocked, false);
    assert.equal(!stranger.allowed && stranger.scope, 'subject');
    // ...Ann at home goes straight through, and so does her laptop from a café.
    assert.equal((await throttle.check(ann('192.0.2.10'))).allowed, true);
    assert.equal((await throttle.check(ann('203.0.113.50', 'laptop-device-id-0123456789'))).allowed, true);
  });

  test('one address spraying many accounts is blocked for all of them', async () => {
    const { throttle, advance, blocks } = setup({ ...POLICY, ipFreeFailures: 5, ipBlockAfter: 12 });
    let verdict: ThrottleVerdict = { allowed: true, known: false };
    for (let i = 0; i < 30; i++) {
      const attempt = { subject: `user${i}@example.com`, ip: '203.0.113.66' };
      verdict = await throttle.check(attempt);
      if (verdict.allowed) await throttle.recordFailure(attempt);
      advance(10);
    }
    assert.equal(verdict.allowed, false);
    assert.equal(!verdict.allowed && verdict.scope, 'ip');
    assert.equal(!verdict.allowed && verdict.blocked, true);
    assert.deepEqual(blocks, [{ scope: 'ip', ip: '203.0.113.66' }]);
  });

  test('emails are one subject however they are typed; IPv6 addresses count per /64', async () => {
    const { fail, throttle } = setup();
    for (const subject of ['Ann@Example.com', ' ann@example.com', 'ANN@EXAMPLE.COM']) await fail({ subject, ip: '2001:db8:1:2::1' });
    assert.equal((await throttle.check({ subject: 'ann@example.com', ip: '2001:db8:1:2::ffff' })).allowed, false);
  });

  test('a success clears its pair and marks the address known, so the hot path can skip writes', async () => {
    const { fail, throttle } = setup();
    await fail(ann());
    assert.deepEqual(await throttle.check(ann()), { allowed: true, known: false });
    await throttle.recordSuccess(ann());
    assert.deepEqual(await throttle.check(ann()), { allowed: true, known: true });
  });

  test('a failing store lets attempts through (fail open) and says so', async () => {
    const errors: unknown[] = [];
    const broken = { read: () => Promise.reject(new Error('down')), add: () => Promise.reject(new Error('down')), remove: () => Promise.reject(new Error('down')), setFlag: () => Promise.reject(new Error('down')) };
    const throttle = createLoginThrottle({ policy: POLICY, store: broken, namespace: 'login', onStoreError: (error) => errors.push(error) });
    assert.equal((await throttle.check(ann())).allowed, true);
    await throttle.recordFailure(ann());
    assert.equal(errors.length, 2);
  });
});
