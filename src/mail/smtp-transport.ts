import { createTransport } from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';

import type { Deliver } from './mail-message.ts';

// Delivery through the mail server of SMTP_URL, with nodemailer: smtps:// speaks TLS from
// the first byte; smtp:// upgrades with STARTTLS and, to any host but the loopback, insists
// on it (requireTLS): otherwise an attacker on the path strips the server's STARTTLS offer
// and reads every reset link and the SMTP password (AUTH comes after the upgrade). The
// loopback (a local relay) and SMTP_INSECURE=true (an operator's choice) may send in the
// clear. The credentials come from the URL. Timeouts are short: the queue tries again later.

export interface SmtpTransport {
  readonly deliver: Deliver;
  close(): void;
}

export interface SmtpSettings {
  readonly url: string;
  readonly from: string;
  /** SMTP_INSECURE: smtp:// may go on without STARTTLS. */
  readonly insecure?: boolean;
}

/** Hosts whose traffic never leaves the machine, as URL writes them. */
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Whether smtp:// to this URL must upgrade with STARTTLS before anything else is said. */
export function requiresStartTls(settings: SmtpSettings): boolean {
  const url = new URL(settings.url);
  return url.protocol === 'smtp:' && !settings.insecure && !LOOPBACK.has(url.hostname.toLowerCase());
}

/** nodemailer's options beyond the URL's: seconds, not its minutes-long defaults; no files or URLs as content; TLS as above. */
export function smtpOptions(settings: SmtpSettings): SMTPTransport.Options {
  return {
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
    disableFileAccess: true,
    disableUrlAccess: true,
    ...(requiresStartTls(settings) && { requireTLS: true }),
  };
}

export function createSmtpTransport(settings: SmtpSettings): SmtpTransport {
  // The options beside the URL, in one object: nodemailer copies them into its transport
  // when it is made (set afterwards on the mailer's `options`, they never reached it).
  const transport = createTransport({ ...smtpOptions(settings), url: settings.url }, { from: settings.from });
  return {
    async deliver(message) {
      // The recipient as a structured address: a string would be parsed again by nodemailer,
      // which reads `a@x.com,b@y.com` or `g:b@y.com;` as other recipients than the one stored.
      await transport.sendMail({ to: { name: '', address: message.to }, subject: message.subject, text: message.text, html: message.html });
    },
    close: () => transport.close(),
  };
}
