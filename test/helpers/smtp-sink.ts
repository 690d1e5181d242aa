// A real SMTP server in the test process (smtp-server), requiring a login, that keeps every
// message it accepts, parsed (mailparser). SMTP_URL points the server under test at it. It
// can refuse the next messages, transiently (4xx) or for good (5xx), to test retries.

import type { AddressInfo } from 'node:net';

import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export const SMTP_USER = 'portcullis';
export const SMTP_PASSWORD = 'smtp password with spaces & symbols';

export interface SmtpSink {
  /** smtp://user:password@host:port, the password percent-encoded. */
  readonly url: string;
  readonly messages: ParsedMail[];
  /** The messages to one recipient. */
  to(address: string): ParsedMail[];
  /** The next `count` messages are answered with this reply code (e.g. 451, 550). */
  refuseNext(count: number, code: number): void;
  /** Every delivery attempt, accepted or not. */
  attempts(): number;
  close(): Promise<void>;
}

/** `host`: where it listens, 127.0.0.1 by default (127.0.0.2: an address transports do not count as the loopback). */
export async function startSmtpSink(options: { host?: string } = {}): Promise<SmtpSink> {
  const host = options.host ?? '127.0.0.1';
  const messages: ParsedMail[] = [];
  let refusals: { count: number; code: number } = { count: 0, code: 0 };
  let attempts = 0;
  const server = new SMTPServer({
    // Plain SMTP on loopback: no certificate to make; nodemailer then logs in without TLS.
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === SMTP_USER && auth.password === SMTP_PASSWORD) callback(null, { user: auth.username });
      else callback(Object.assign(new Error('wrong credentials'), { responseCode: 535 }));
    },
    onData(stream, _session, callback) {
      attempts += 1;
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        if (refusals.count > 0) {
          refusals = { ...refusals, count: refusals.count - 1 };
          callback(Object.assign(new Error('refused by the test'), { responseCode: refusals.code }));
          return;
        }
        simpleParser(Buffer.concat(chunks))
          .then((parsed) => {
            messages.push(parsed);
            callback();
          })
          .catch((error: Error) => callback(error));
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://${SMTP_USER}:${encodeURIComponent(SMTP_PASSWORD)}@${host}:${port}`,
    messages,
    to: (address) => messages.filter((message) => [message.to].flat().some((to) => to?.value.some((entry) => entry.address === address))),
    refuseNext(count, code) {
      refusals = { count, code };
    },
    attempts: () => attempts,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
