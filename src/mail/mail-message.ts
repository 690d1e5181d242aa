/** One message, ready to send: both bodies, so every mail client shows it well. */
export interface MailMessage {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
  /** What the message is (`password_reset`, ...): the only thing logs say of it. */
  readonly kind: string;
}

/** Hands one message to a mail server (or the log); rejects when it was not accepted. */
export type Deliver = (message: MailMessage) => Promise<void>;
