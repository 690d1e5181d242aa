import assert from 'node:assert/strict';
import { test } from 'node:test';

import { createSecondFactorPages } from '../../src/interactions/second-factor.ts';

// What the sign-in keeps after the password when an enrolment lies ahead (MFA=required, no
// authenticator yet): a code mailed to the account, sealed in the pending sign-in; and none
// at all where mail would reach only the log (production without SMTP_URL), so no secret is
// ever logged and no enrolment can follow. The pages themselves: the second-factor flow tests.

function pagesWith(mailReachesPeople: boolean, options: { mailAllowed?: boolean; queueAccepts?: boolean } = {}) {
  const mailed: { to: string; text: string }[] = [];
  const events: string[] = [];
  const cookies: string[] = [];
  const settled: boolean[] = [];
  const pages = createSecondFactorPages({
    accounts: {} as never,
    secondFactors: {
      state: () => Promise.resolve('none'),
      mailboxProofs: { issue: () => ({ code: '12345 67890', sealed: 'sealed-proof' }), check: () => false },
    } as never,
    render: () => '',
    interactions: {
      load: () => Promise.reject(new Error('not used')),
      client: () => Promise.resolve(undefined),
      finish: () => Promise.reject(new Error('not used')),
    },
    throttle: {} as never,
    audit: { record: (event) => void events.push(event.type) },
    requirement: { mode: 'required', roles: [] },
    mailReachesPeople,
    mailer: { send: (message: { to: string; text: string }) => (options.queueAccepts ?? true) && mailed.push(message) > 0 } as never,
    mailThrottle: {
      take: () =>
        Promise.resolve(
          options.mailAllowed === false
            ? { allowed: false as const, retryAfterSeconds: 300 }
            : { allowed: true as const, settle: (sent: boolean) => Promise.resolve(void settled.push(sent)) },
        ),
    },
    issuer: 'https://id.example.com',
  });
  const ctx = {
    ip: '127.0.0.1',
    get: () => '',
    state: {},
    secure: true,
    redirect: () => undefined,
    // The browser's cookie jar, as far as the pending sign-in goes: what was set is sent back.
    cookies: { set: (_name: string, value: string) => void cookies.push(value), get: () => cookies.at(-1) },
  } as never;
  const kept = () => JSON.parse(Buffer.from(cookies.at(-1)!, 'base64url').toString('utf8')) as Record<string, unknown>;
  return { pages, ctx, mailed, events, kept, settled };
}

const account = { id: 'a1', email: 'ada@example.com', passwordHash: '$argon2id$stand-in' } as never;
const details = { uid: 'u1', params: { client_id: 'app' }, prompt: { name: 'login', reasons: [] } } as never;

test('where mail reaches people: the password mails one code to the account and keeps only its sealed copy', async () => {
  const { pages, ctx, mailed, events, kept, settled } = pagesWith(true);
  assert.equal(await pages.afterPassword(ctx, details, account), true);
  assert.equal(mailed.length, 1);
  assert.equal(mailed[0]!.to, 'ada@example.com');
  assert.match(mailed[0]!.text, /12345 67890/);
  assert.equal(kept().mailbox, 'sealed-proof');
  assert.ok(!JSON.stringify(kept()).includes('12345'), 'the pending sign-in holds no code in clear');
  assert.equal(kept().mailboxProven, undefined);
  assert.deepEqual(events, ['mfa.mailbox_code_sent']);
  assert.deepEqual(settled, [true], 'the mail counts against the account');
});

test('where mail reaches only the log: no code is made or mailed, so no enrolment can follow', async () => {
  const { pages, ctx, mailed, events, kept } = pagesWith(false);
  assert.equal(await pages.afterPassword(ctx, details, account), true);
  assert.deepEqual(mailed, []);
  assert.equal(kept().mailbox, undefined);
  assert.equal(kept().mailboxProven, undefined);
  assert.deepEqual(events, []);
});

test('over the mail count for the account: no code made or mailed, the time to wait kept instead', async () => {
  const { pages, ctx, mailed, events, kept } = pagesWith(true, { mailAllowed: false });
  const before = Date.now();
  assert.equal(await pages.afterPassword(ctx, details, account), true);
  assert.deepEqual(mailed, []);
  assert.equal(kept().mailbox, undefined);
  const until = kept().mailboxWaitUntil as number;
  assert.ok(until >= before + 300_000 && until <= Date.now() + 300_000, String(until));
  assert.deepEqual(events, []);
});

test('the mail queue full: no code kept (it would never arrive), a minute to wait, nothing audited as sent, and the count given back', async () => {
  const { pages, ctx, mailed, events, kept, settled } = pagesWith(true, { queueAccepts: false });
  assert.equal(await pages.afterPassword(ctx, details, account), true);
  assert.deepEqual(mailed, []);
  assert.equal(kept().mailbox, undefined);
  assert.ok((kept().mailboxWaitUntil as number) > Date.now());
  assert.deepEqual(events, []);
  assert.deepEqual(settled, [false], 'a mail the queue refused does not count against the owner');
});

test('the same sign-in sent again (a resubmitted form) keeps the code already mailed for it: one mail, one count', async () => {
  const { pages, ctx, mailed, kept, settled } = pagesWith(true);
  await pages.afterPassword(ctx, details, account);
  const first = kept().mailbox;
  await pages.afterPassword(ctx, details, account);
  assert.equal(mailed.length, 1);
  assert.deepEqual(settled, [true]);
  assert.equal(kept().mailbox, first);
});
