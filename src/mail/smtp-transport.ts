import { createTransport } from 'nodemailer';

import type { Deliver } from './mail-message.ts';

// Delivery through the mail server of SMTP_URL, with nodemailer: smtp:// upgrades with
// STARTTLS when the server offers it, smtps:// speaks TLS from the first byte; the
// credentials come from the URL. Timeouts are short: the queue tries again later.

export interface SmtpTransport {
  readonly deliver: Deliver;
  close(): void;
}

export function createSmtpTransport(options: { url: string; from: string }): SmtpTransport {
  const transport = createTransport(options.url, { from: options.from });
  // Options nodemailer does not read from the URL: seconds, not its minutes-long defaults.
  Object.assign(transport.options, { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000, disableFileAccess: true, disableUrlAccess: true });
  return {
    async deliver(message) {
      await transport.sendMail({ to: message.to, subject: message.subject, text: message.text, html: message.html });
    },
    close: () => transport.close(),
  };
}
