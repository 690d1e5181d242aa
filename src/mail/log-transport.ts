import type { Logger } from '../observability/index.ts';
import type { Deliver } from './mail-message.ts';

/**
 * Without SMTP_URL (development, test): the message goes to the log instead, plainly marked
 * as not sent, with its text (and so its link) for the developer to follow. Production never
 * gets here for a flow that needs mail (config refuses, or the flow is off).
 */
export function createLogTransport(logger: Logger): Deliver {
  return (message) => {
    logger.warn({ mail: message.kind, to: message.to, subject: message.subject, body: message.text }, 'MAIL NOT SENT (no SMTP_URL): the message is logged here instead');
    return Promise.resolve();
  };
}
