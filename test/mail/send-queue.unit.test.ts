import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';

import { loadConfig } from '../../src/config/index.ts';
import { createMailer, createSendQueue, isTransient, type MailMessage } from '../../src/mail/index.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { SMTP_PASSWORD, startSmtpSink } from '../helpers/smtp-sink.ts';

// The mail queue: sends in the background, tries a transient failure again after a wait,
// gives up at once on a permanent one, stays bounded, and logs neither recipient nor text.

const message = (n = 1): MailMessage => ({ kind: 'test_message', to: `person${n}@example.com`, subject: 'Hello', text: `secret link https://x/?token=t${n}`, html: '<p>hi</p>' });

function capture() {
  let text = '';
  const logger = createLogger({
    level: 'debug',
    destination: new Writable({
      write(chunk: Buffer, _encoding, callback) {
        text += chunk.toString();
        callback();
      },
    }),
  });
  return { logger, text: () => text };
}

const smtpError = (responseCode: number) => Object.assign(new Error(`reply ${responseCode}`), { responseCode, code: 'EMESSAGE' });

describe('the send queue', () => {
  test('answers at once and sends in the background', async () => {
    const { logger } = capture();
    let release!: () => void;
    const delivered: string[] = [];
    const queue = createSendQueue({
      logger,
      deliver: async (m) => {
        await new Promise<void>((resolve) => (release = resolve));
        delivered.push(m.to);
      },
    });
    assert.equal(queue.send(message()), true);
    assert.deepEqual(delivered, [], 'send() does not wait for the server');
    release();
    await queue.idle();
    assert.deepEqual(delivered, ['person1@example.com']);
  });

  test('tries a transient failure again after a growing wait, until it is accepted', async () => {
    const { logger, text } = capture();
    const waits: number[] = [];
    let tries = 0;
    const queue = createSendQueue({
      logger,
      backoffMs: (attempt) => {
        waits.push(attempt);
        return attempt * 5;
      },
      deliver: () => {
        tries += 1;
        if (tries === 1) return Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNECTION' }));
        if (tries === 2) return Promise.reject(smtpError(451));
        return Promise.resolve();
      },
    });
    queue.send(message());
    await queue.idle();
    assert.equal(tries, 3);
    assert.deepEqual(waits, [1, 2]);
    assert.match(text(), /will try again/);
    assert.match(text(), /"attempt":3[^\n]*mail sent/);
  });

  test('gives up after the last attempt, and at once on a permanent (5xx) failure', async () => {
    const { logger, text } = capture();
    let tries = 0;
    const queue = createSendQueue({ logger, attempts: 3, backoffMs: () => 1, deliver: () => (tries++, Promise.reject(smtpError(421))) });
    queue.send(message());
    await queue.idle();
    assert.equal(tries, 3);

    tries = 0;
    const permanent = createSendQueue({ logger, backoffMs: () => 1, deliver: () => (tries++, Promise.reject(smtpError(550))) });
    permanent.send(message());
    await permanent.idle();
    assert.equal(tries, 1);
    assert.match(text(), /"reason":"EMESSAGE 550"[^\n]*giving up/);
    assert.ok(!text().includes('person1@example.com') && !text().includes('token=t1'), 'neither recipient nor text in the log');
  });

  test('is bounded: past the limit a message is dropped, not queued', async () => {
    const { logger, text } = capture();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const queue = createSendQueue({ logger, maxQueued: 2, concurrency: 1, deliver: () => held });
    const accepted = [1, 2, 3, 4].map((n) => queue.send(message(n)));
    // One is being sent, two wait, the fourth has no room.
    assert.deepEqual(accepted, [true, true, true, false]);
    assert.match(text(), /mail dropped/);
    release();
    await queue.idle();
  });

  test('close() cuts the wait before a retry and drops what still waits', async () => {
    const { logger, text } = capture();
    let tries = 0;
    const queue = createSendQueue({ logger, concurrency: 1, backoffMs: () => 60_000, deliver: () => (tries++, Promise.reject(smtpError(451))) });
    queue.send(message(1));
    queue.send(message(2));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const started = Date.now();
    await queue.close();
    assert.ok(Date.now() - started < 1_000, 'no minute-long wait at shutdown');
    assert.equal(tries, 1);
    assert.equal(queue.send(message(3)), false, 'a closed queue takes nothing');
    assert.match(text(), /mail dropped at shutdown/);
  });

  test('treats only 5xx replies as permanent', () => {
    assert.equal(isTransient(smtpError(550)), false);
    assert.equal(isTransient(smtpError(535)), false);
    assert.equal(isTransient(smtpError(451)), true);
    assert.equal(isTransient(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })), true);
  });
});

describe('the mailer of the configuration', () => {
  test('with SMTP_URL, logs in to the server and delivers text and HTML, retrying a 451', async () => {
    const sink = await startSmtpSink();
    try {
      const { logger, text } = capture();
      const config = loadConfig({ NODE_ENV: 'test', SMTP_URL: sink.url, MAIL_FROM: 'Auth <auth@example.com>' });
      const mailer = createMailer(config, logger, { backoffMs: () => 10 });
      sink.refuseNext(1, 451);
      mailer.send(message());
      await mailer.idle();
      await mailer.close();
      assert.equal(sink.attempts(), 2, 'refused once, then accepted');
      const [got] = sink.to('person1@example.com');
      assert.equal(got?.subject, 'Hello');
      assert.equal(got?.from?.value[0]?.address, 'auth@example.com');
      assert.match(got?.text ?? '', /secret link/);
      assert.equal(String(got?.html).trim(), '<p>hi</p>');
      assert.ok(!text().includes(SMTP_PASSWORD) && !text().includes(encodeURIComponent(SMTP_PASSWORD)), 'the SMTP password is never logged');
    } finally {
      await sink.close();
    }
  });

  test('with wrong credentials, gives up at once (535 is permanent) and says so without the password', async () => {
    const sink = await startSmtpSink();
    try {
      const { logger, text } = capture();
      const url = sink.url.replace(encodeURIComponent(SMTP_PASSWORD), 'wrong-password');
      const mailer = createMailer(loadConfig({ NODE_ENV: 'test', SMTP_URL: url }), logger, { backoffMs: () => 10 });
      mailer.send(message());
      await mailer.idle();
      await mailer.close();
      assert.equal(sink.messages.length, 0);
      assert.match(text(), /EAUTH 535[^\n]*giving up/);
      assert.ok(!text().includes('wrong-password'));
    } finally {
      await sink.close();
    }
  });

  test('without SMTP_URL, puts the message and its link in the log, plainly marked as not sent', async () => {
    const { logger, text } = capture();
    const mailer = createMailer(loadConfig({ NODE_ENV: 'development' }), logger);
    mailer.send(message());
    await mailer.idle();
    assert.match(text(), /MAIL NOT SENT \(no SMTP_URL\)/);
    assert.match(text(), /secret link https:\/\/x\/\?token=t1/);
  });
});
