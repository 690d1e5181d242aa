// Outgoing mail: a bounded background queue with retries (send-queue.ts, on bounded-queue.ts,
// which the reset pages' background work uses too) over SMTP_URL's
// server (smtp-transport.ts) or, without one, the log; and the messages themselves.
export { createBoundedQueue, type BoundedQueue } from './bounded-queue.ts';
export { createMailer } from './create-mailer.ts';
export { createSendQueue, isTransient, type Mailer, type SendQueueOptions } from './send-queue.ts';
export type { Deliver, MailMessage } from './mail-message.ts';
export { addressChangeCodeMessage, alreadyRegisteredMessage, authenticatorRemovedMessage, recoveryCodesRenewedMessage, emailChangedMessage, emailChangeMessage, mailboxCodeMessage, passkeyAddedMessage, passkeyRemovedMessage, passwordChangedMessage, passwordResetMessage, secondFactorAddedMessage, secondFactorLockedMessage, signUpMessage } from './templates.ts';
