import type { Config } from '../config/index.ts';
import type { Logger } from '../observability/index.ts';
import { createLogTransport } from './log-transport.ts';
import { createSendQueue, type Mailer, type SendQueueOptions } from './send-queue.ts';
import { createSmtpTransport } from './smtp-transport.ts';

/** The mailer of the configuration: SMTP_URL's server, else the log. Opens nothing until a message is sent. */
export function createMailer(config: Config, logger: Logger, options: Partial<Pick<SendQueueOptions, 'backoffMs' | 'attempts'>> = {}): Mailer {
  if (!config.mail.smtpUrl) return createSendQueue({ deliver: createLogTransport(logger), logger, ...options });
  const smtp = createSmtpTransport({ url: config.mail.smtpUrl, from: config.mail.from, insecure: config.mail.insecure });
  const queue = createSendQueue({ deliver: smtp.deliver, logger, ...options });
  return {
    ...queue,
    async close() {
      await queue.close();
      smtp.close();
    },
  };
}
