import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { createCredentialThrottle, type AttemptVerdict, type AuthAttempt } from '../../src/abuse/credential-throttle.ts';
import { createMemoryThrottleStore, type ThrottleStore } from '../../src/abuse/credential-throttle-store.ts';
import { delayMs } from '../../src/abuse/throttle-rules.ts';
import type { AuthThrottleConfig } from '../../src/config/index.ts';
import { describeThrottleStoreContract } from '../contracts/throttle-store.ts';

const POLICY: AuthThrottleConfig = {
  freeFailures: 3,
  blockAfter: 10,
  ipFreeFailures: 20,
  ipBlockAfter: 100,
  subjectFreeFailures: 20,
  subjectInterval: 60,
  maxDelay: 60,
  window: 900,
};

function setup(policy: AuthThrottleConfig = POLICY, store: ThrottleStore = createMemoryThrottleStore({ maxKeys: 10_000, maxKept: 10_000 })) {
  let clock = 1_000_000;
  const blocks: { scope: string; ip: string }[] = [];
  const throttle = createCredentialThrottle({
    policy,
    store,
    namespace: 'login',
    now: () => clock,
    onBlocked: (attempt, block) => blocks.push({ scope: block.scope, ip: attempt.ip }),
  });
  /** One try: refused (uncounted), or checked and `right` or wrong. */
  async function attempt(a: AuthAttempt, right = false): Promise<AttemptVerdict> {
    const verdict = await throttle.reserve(a);
    if (verdict.allowed) await (right ? verdict.reservation.succeeded({ device: a.device }) : verdict.reservation.failed());
    return verdict;
  }
  return {
    throttle,
    blocks,
    attempt,
    fail: (a: AuthAttempt) => attempt(a),
    succeed: (a: AuthAttempt) => attempt(a, true),
    advance: (ms: number) => {
      clock += ms;
    },
    /** Fails from `a`, waiting whatever it is told, until blocked; the checked failures it took. */
    failUntilBlocked: async (a: AuthAttempt): Promise<number> => {
      for (let failures = 0; ; ) {
        const verdict = await attempt(a);
        if (verdict.allowed) failures++;
        else if (verdict.blocked) return failures;
        else clock += verdict.retryAfterSeconds * 1000;
      }
    },
  };
}

const ann = (ip = '198.51.100.1', device?: string): AuthAttempt => ({ subject: 'ann@example.com', ip, device });
const refusal = (verdict: AttemptVerdict) => (verdict.allowed ? undefined : { scope: verdict.scope, blocked: verdict.blocked, retryAfterSeconds: verdict.retryAfterSeconds });

describe('the credential throttle', () => {
  test('delays double from 1 s after the free failures, up to the ceiling', () => {
    assert.deepEqual([0, 1, 2, 3, 4, 7, 20].map((n) => delayMs(n, 60_000)), [0, 1000, 2000, 4000, 8000, 60_000, 60_000]);
  });

  test('the first failures are free; then each try must wait, and a try refused too early is not counted', async () => {
    const { fail, advance } = setup();
    for (let i = 0; i < 3; i++) assert.equal((await fail(ann())).allowed, true);
    advance(500);
    assert.deepEqual(refusal(await fail(ann())), { scope: 'pair', blocked: false, retryAfterSeconds: 1 });
    assert.deepEqual(refusal(await fail(ann())), { scope: 'pair', blocked: false, retryAfterSeconds: 1 }, 'the refused try changed nothing');
    advance(500);
    assert.equal((await fail(ann())).allowed, true, 'a try after the wait is checked');
    assert.deepEqual(refusal(await fail(ann())), { scope: 'pair', blocked: false, retryAfterSeconds: 2 });
  });

  test('a script ignoring Retry-After gets no more checks and no block; one that waits is blocked at the 10th failure, for that account only', async () => {
    const { fail, throttle, blocks, failUntilBlocked } = setup();
    const verdicts: AttemptVerdict[] = [];
    for (let i = 0; i < 50; i++) verdicts.push(await fail(ann('203.0.113.9')));
    assert.equal(verdicts.filter((v) => v.allowed).length, 3, 'only the free failures reached the password check');
    assert.deepEqual(refusal(verdicts.at(-1)!), { scope: 'pair', blocked: false, retryAfterSeconds: 1 }, 'a wait, never a block');
    assert.equal(await failUntilBlocked(ann('203.0.113.9')), 7, 'seven more checked failures reach the block');
    const last = await throttle.reserve(ann('203.0.113.9'));
    assert.deepEqual(refusal(last), { scope: 'pair', blocked: true, retryAfterSeconds: 900 });
    assert.deepEqual(blocks, [{ scope: 'pair', ip: '203.0.113.9' }], 'one block event');
    // The same address may still try other accounts, and Ann elsewhere.
    assert.equal((await throttle.reserve({ subject: 'bob@example.com', ip: '203.0.113.9' })).allowed, true);
    assert.equal((await throttle.reserve(ann('198.51.100.77'))).allowed, true);
  });

  test('a block ends a window after the last counted failure', async () => {
    const { throttle, advance, failUntilBlocked } = setup();
    await failUntilBlocked(ann());
    assert.equal((await throttle.reserve(ann())).allowed, false);
    advance(899_000);
    assert.equal((await throttle.reserve(ann())).allowed, false);
    advance(2_000);
    assert.equal((await throttle.reserve(ann())).allowed, true);
  });

  test('200 wrong passwords from 200 addresses slow strangers down but never the owner on a known address or device', async () => {
    const { fail, succeed, throttle, advance } = setup();
    // Ann signed in from home on her laptop last week.
    await succeed(ann('192.0.2.10', 'laptop-device-id-0123456789'));
    advance(7 * 24 * 3600 * 1000);

    let checked = 0;
    for (let i = 0; i < 200; i++) {
      const verdict = await fail(ann(`10.0.${Math.floor(i / 250)}.${i % 250}`));
      if (verdict.allowed) checked++;
      advance(100);
    }
    assert.ok(checked < 40, `only ${checked} of 200 guesses reached the password check`);
    // A new address without history waits (never a block), at most one interval...
    const stranger = await throttle.reserve(ann('198.51.100.200'));
    assert.equal(refusal(stranger)?.scope, 'subject');
    assert.equal(refusal(stranger)?.blocked, false);
    assert.ok(refusal(stranger)!.retryAfterSeconds <= 60);
    // ...Ann at home goes straight through, and so does her laptop from a café.
    assert.equal((await throttle.reserve(ann('192.0.2.10'))).allowed, true);
    assert.equal((await throttle.reserve(ann('203.0.113.50', 'laptop-device-id-0123456789'))).allowed, true);
  });

  test("an attacker guessing once a minute cannot keep the owner's new device waiting: it gets the next slot", async () => {
    const { fail, succeed, advance } = setup();
    for (let i = 0; i < 20; i++) await fail(ann(`10.1.0.${i}`));
    // From now on one guess a minute, from fresh addresses, 30 s into each minute.
    advance(90_000);
    let guesses = 0;
    const guess = async () => {
      await fail(ann(`10.2.0.${guesses++}`));
    };
    for (let minute = 0; minute < 10; minute++) {
      await guess();
      advance(60_000);
    }
    await guess();
    advance(10_000);
    // The owner, on a new laptop at a café, 10 s after the attacker's latest guess.
    const first = await succeed(ann('203.0.113.77', 'new-laptop-device-id-000000'));
    assert.equal(first.allowed, false);
    const wait = refusal(first)!.retryAfterSeconds;
    assert.ok(wait <= 60, `told to wait ${wait} s: at most one interval`);
    // The attacker keeps to its minute; the owner comes back when told.
    let waited = 0;
    while (waited < wait * 1000) {
      const step = Math.min(wait * 1000 - waited, 60_000 - ((10_000 + waited) % 60_000));
      advance(step);
      waited += step;
      if ((10_000 + waited) % 60_000 === 0) await guess();
    }
    assert.equal((await succeed(ann('203.0.113.77', 'new-laptop-device-id-000000'))).allowed, true, 'in after one wait');
  });

  test("the owner's right password is never counted: it gives back its reservation and starts the pair over", async () => {
    const { fail, succeed, throttle } = setup();
    for (let i = 0; i < 2; i++) await fail(ann());
    assert.equal((await succeed(ann())).allowed, true);
    // Three more free failures again, then a wait: the pair started over.
    for (let i = 0; i < 3; i++) assert.equal((await fail(ann())).allowed, true);
    assert.equal((await throttle.reserve(ann())).allowed, false);
  });

  test('a burst of concurrent attempts gets no more checks than attempts one after another', async () => {
    const { fail } = setup();
    const verdicts = await Promise.all(Array.from({ length: 60 }, () => fail(ann('203.0.113.5'))));
    assert.equal(verdicts.filter((verdict) => verdict.allowed).length, 3);
    assert.ok(verdicts.every((verdict) => verdict.allowed || refusal(verdict)?.scope === 'pair'));
    const spread = await Promise.all(Array.from({ length: 300 }, (_, i) => fail({ subject: 'bob@example.com', ip: `10.9.${i >> 8}.${i & 255}` })));
    assert.equal(spread.filter((verdict) => verdict.allowed).length, 20, "the account's burst, however many addresses");
  });

  test('a burst of right credentials only queues: every one gets through', async () => {
    const { succeed } = setup();
    const verdicts = await Promise.all(Array.from({ length: 12 }, () => succeed(ann('192.0.2.20'))));
    assert.equal(verdicts.filter((verdict) => verdict.allowed).length, 12);
  });

  test("a client's own servers are not held back by their attempts in flight; new addresses are", async () => {
    const store = createMemoryThrottleStore({ maxKeys: 1000, maxKept: 1000 });
    const throttle = createCredentialThrottle({ policy: POLICY, store, namespace: 'client', concurrentWhenTrusted: true, holdMs: 0 });
    const service = (ip: string): AuthAttempt => ({ subject: 'batch', ip });
    const first = await throttle.reserve(service('192.0.2.30'));
    if (first.allowed) await first.reservation.succeeded();
    const own = await Promise.all(Array.from({ length: 50 }, () => throttle.reserve(service('192.0.2.30'))));
    assert.equal(own.filter((verdict) => verdict.allowed).length, 50, 'its own server: all fifty at once');
    const elsewhere = await Promise.all(Array.from({ length: 50 }, () => throttle.reserve(service('198.51.100.30'))));
    assert.equal(elsewhere.filter((verdict) => verdict.allowed).length, 3, 'a new address: the free failures, the rest asked to come back');
    assert.deepEqual(refusal(elsewhere.find((verdict) => !verdict.allowed)!), { scope: 'pair', blocked: false, retryAfterSeconds: 1 });
  });

  test('an attempt never checked is given back', async () => {
    const { throttle } = setup();
    for (let i = 0; i < 10; i++) {
      const verdict = await throttle.reserve(ann());
      assert.equal(verdict.allowed, true, `attempt ${i + 1}`);
      if (verdict.allowed) await verdict.reservation.released();
    }
  });

  test('a trusted device gets through a block aimed at its address, and has a small failure count of its own', async () => {
    const { succeed, fail, throttle, failUntilBlocked, blocks } = setup();
    const laptop = ann('198.51.100.50', 'laptop-device-id-0123456789');
    await succeed(laptop);
    // Someone behind the same address blocks it for Ann (and for everyone, by spraying).
    await failUntilBlocked(ann('198.51.100.50'));
    for (let i = 0; i < 120; i++) await fail({ subject: `user${i}@example.com`, ip: '198.51.100.50' });
    assert.equal((await throttle.reserve(ann('198.51.100.50'))).allowed, false);
    assert.equal((await succeed(laptop)).allowed, true, 'the laptop is not stopped');
    // A thief with the cookie gets the device's own three free failures, then waits and a block.
    const thief = ann('203.0.113.99', 'laptop-device-id-0123456789');
    const verdicts = [];
    for (let i = 0; i < 20; i++) verdicts.push(await fail(thief));
    assert.equal(verdicts.filter((verdict) => verdict.allowed).length, 3);
    assert.equal(await failUntilBlocked(thief), 7);
    assert.deepEqual(refusal(await throttle.reserve(thief)), { scope: 'device', blocked: true, retryAfterSeconds: 900 });
    assert.ok(blocks.some((block) => block.scope === 'device'));
  });

  test('one address spraying many accounts is blocked for all of them', async () => {
    const { throttle, advance, blocks } = setup({ ...POLICY, ipFreeFailures: 5, ipBlockAfter: 12 });
    let verdict: AttemptVerdict | undefined;
    for (let i = 0; i < 60; i++) {
      verdict = await throttle.reserve({ subject: `user${i}@example.com`, ip: '203.0.113.66' });
      if (verdict.allowed) await verdict.reservation.failed();
      else if (!verdict.blocked) advance(verdict.retryAfterSeconds * 1000);
      else break;
    }
    assert.deepEqual(refusal(verdict!), { scope: 'ip', blocked: true, retryAfterSeconds: 900 });
    assert.deepEqual(blocks, [{ scope: 'ip', ip: '203.0.113.66' }]);
  });

  test('emails are one subject however they are typed; IPv6 addresses count per /64', async () => {
    const { fail, throttle } = setup();
    for (const subject of ['Ann@Example.com', ' ann@example.com', 'ANN@EXAMPLE.COM']) await fail({ subject, ip: '2001:db8:1:2::1' });
    assert.equal((await throttle.reserve({ subject: 'ann@example.com', ip: '2001:db8:1:2::ffff' })).allowed, false);
  });

  test("when the operators' releases cannot be read, a refusal stands (never a way in for a blocked guesser)", async () => {
    const errors: unknown[] = [];
    const throttle = createCredentialThrottle({
      policy: POLICY,
      store: createMemoryThrottleStore({ maxKeys: 100, maxKept: 100 }),
      namespace: 'login',
      releases: { pull: () => Promise.reject(new Error('database down')) },
      onStoreError: (error) => errors.push(error),
    });
    let refused = 0;
    for (let i = 0; i < 10; i++) {
      const verdict = await throttle.reserve(ann());
      if (verdict.allowed) await verdict.reservation.failed();
      else refused++;
    }
    assert.equal(refused, 10 - POLICY.freeFailures, 'after the free failures every try is refused');
    assert.ok(errors.length >= 1, 'the failed read is reported');
  });

  test('a failing store lets attempts through (fail open) and says so', async () => {
    const errors: unknown[] = [];
    const broken: ThrottleStore = { reserve: () => Promise.reject(new Error('down')), settle: () => Promise.reject(new Error('down')), release: () => Promise.reject(new Error('down')) };
    const throttle = createCredentialThrottle({ policy: POLICY, store: broken, namespace: 'login', onStoreError: (error) => errors.push(error) });
    const verdict = await throttle.reserve(ann());
    assert.equal(verdict.allowed, true);
    if (verdict.allowed) await verdict.reservation.failed();
    assert.equal(errors.length, 1);
  });
});

describe('the in-memory throttle store under a flood of fresh keys', () => {
  test('blocks and trusted devices outlive 10,000 fresh keys; ordinary counts make way', async () => {
    const store = createMemoryThrottleStore({ maxKeys: 100, maxKept: 100 });
    const { throttle, succeed, fail, failUntilBlocked } = setup(POLICY, store);
    const laptop = ann('192.0.2.10', 'laptop-device-id-0123456789');
    await succeed(laptop);
    await failUntilBlocked(ann('203.0.113.9'));
    await fail(ann('203.0.113.10'));
    for (let i = 0; i < 10_000; i++) await fail({ subject: `nobody${i}@example.com`, ip: `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}` });
    assert.deepEqual(refusal(await throttle.reserve(ann('203.0.113.9'))), { scope: 'pair', blocked: true, retryAfterSeconds: 900 });
    assert.equal((await throttle.reserve({ ...laptop, ip: '203.0.113.9' })).allowed, true, 'the trusted laptop, even from the blocked address');
  });
});

describe('the in-memory throttle store', () => {
  let n = 0;
  describeThrottleStoreContract(() => createMemoryThrottleStore({ maxKeys: 1000, maxKept: 1000 }), () => `k${n++}`);
});
