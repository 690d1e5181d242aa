import type { PendingLogin } from './pending-login.ts';

// Where a sign-in that must enrol an authenticator stands between its password and the
// enrolment (the mailbox proof, accounts/mailbox-proof.ts). Pure: the pending sign-in, the
// clock and whether mail can reach the person decide; second-factor.ts renders.

export type MailboxStep =
  /** The code was typed back: the enrolment page. */
  | 'enrol'
  /** A code was mailed for this sign-in: the page asking for it. */
  | 'code'
  /** No code was mailed (too many lately, or the queue was full) and the wait is not over: the page says until when. */
  | 'wait'
  /** Mail would reach only the log: no enrolment here, the page says so. */
  | 'unavailable'
  /** Nothing to show for this sign-in any more (the wait is over, or no code was ever asked for): the password form, whose next success mails one. */
  | 'password';

export function mailboxStep(
  pending: Pick<PendingLogin, 'mailbox' | 'mailboxProven' | 'mailboxWaitUntil'>,
  now: number,
  mailReachesPeople: boolean,
): MailboxStep {
  if (pending.mailboxProven) return 'enrol';
  if (!mailReachesPeople) return 'unavailable';
  if (pending.mailbox) return 'code';
  if (pending.mailboxWaitUntil !== undefined && pending.mailboxWaitUntil > now) return 'wait';
  return 'password';
}
