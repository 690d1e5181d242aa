import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { configWarnings, loadConfig } from '../../src/config/index.ts';
import { createSmtpTransport, requiresStartTls, smtpOptions } from '../../src/mail/smtp-transport.ts';
import { SMTP_PASSWORD, startSmtpSink } from '../helpers/smtp-sink.ts';

// smtp:// insists on STARTTLS to any host but the loopback, unless SMTP_INSECURE: a server
// (or an attacker on the path, stripping its offer) that offers none gets neither the
// message (a reset link) nor the credentials. Against a real SMTP server (smtp-server)
// that offers no STARTTLS, on 127.0.0.2: on the machine, but not an address counted as
// the loopback.

const message = { kind: 'test_message', to: 'person@example.com', subject: 'Hello', text: 'secret link https://x/?token=t', html: '<p>hi</p>' };

describe('SMTP transport security', () => {
  test('requires STARTTLS for smtp:// except to localhost, 127.0.0.1 and ::1, or with SMTP_INSECURE; smtps:// is TLS already', () => {
    const from = 'a@example.com';
    for (const url of ['smtp://u:p@mail.example.com:587', 'smtp://mail.example.com', 'smtp://10.0.0.5:25', 'smtp://127.0.0.2:25', 'smtp://[2001:db8::1]:25']) {
      assert.equal(requiresStartTls({ url, from }), true, url);
      assert.equal(smtpOptions({ url, from }).requireTLS, true, url);
      assert.equal(requiresStartTls({ url, from, insecure: true }), false, `${url} with SMTP_INSECURE`);
    }
    for (const url of ['smtp://localhost:25', 'smtp://LOCALHOST:1025', 'smtp://127.0.0.1:25', 'smtp://[::1]:25', 'smtps://u:p@mail.example.com:465']) {
      assert.equal(requiresStartTls({ url, from }), false, url);
      assert.equal(smtpOptions({ url, from }).requireTLS, undefined, url);
    }
    assert.equal(smtpOptions({ url: 'smtp://mail.example.com', from }).disableFileAccess, true);
  });

  test('a server offering no STARTTLS gets no message (STARTTLS fails before the login); with SMTP_INSECURE the message goes', async () => {
    const sink = await startSmtpSink({ host: '127.0.0.2' });
    try {
      const strict = createSmtpTransport({ url: sink.url, from: 'a@example.com' });
      try {
        await assert.rejects(strict.deliver(message), (error: Error) => !error.message.includes(SMTP_PASSWORD));
      } finally {
        strict.close();
      }
      assert.equal(sink.attempts(), 0, 'nothing was sent in the clear');
      assert.equal(sink.messages.length, 0);

      const insecure = createSmtpTransport({ url: sink.url, from: 'a@example.com', insecure: true });
      try {
        await insecure.deliver(message);
      } finally {
        insecure.close();
      }
      assert.equal(sink.to('person@example.com').length, 1);
    } finally {
      await sink.close();
    }
  });

  test('SMTP_INSECURE is parsed once, false by default, and warned about in production with smtp://', () => {
    assert.equal(loadConfig({ SMTP_URL: 'smtp://mail.example.com' }).mail.insecure, false);
    assert.equal(loadConfig({ SMTP_URL: 'smtp://mail.example.com', SMTP_INSECURE: 'true' }).mail.insecure, true);
    assert.throws(() => loadConfig({ SMTP_INSECURE: 'maybe' }), /SMTP_INSECURE/);
    const production = { NODE_ENV: 'production', MASTER_SECRET: 'x'.repeat(40), ISSUER: 'https://id.example.com', TRUST_PROXY: 'true' };
    const warned = configWarnings(loadConfig({ ...production, SMTP_URL: 'smtp://u:hunter2@mail.example.com:587', SMTP_INSECURE: 'true' }));
    assert.equal(warned.length, 1);
    assert.match(warned[0]!, /SMTP_INSECURE=true/);
    assert.ok(!warned[0]!.includes('hunter2'));
    assert.deepEqual(configWarnings(loadConfig({ ...production, SMTP_URL: 'smtp://mail.example.com:587' })), []);
    assert.deepEqual(configWarnings(loadConfig({ ...production, SMTP_URL: 'smtps://mail.example.com:465', SMTP_INSECURE: 'true' })), [], 'smtps:// is TLS whatever the flag');
  });
});
