import os from 'node:os';

// Who ran a CLI command, as the audit trail records it beside actor "cli": the OS account
// and the machine. Read once per run, from the OS, not from flags, so an event names the
// operator without the operator having to say so.

export interface Operator {
  /** The OS user name (`os.userInfo()`); $USER, or `uid:N`, when the account has no passwd entry (some containers). */
  readonly osUser: string;
  readonly host: string;
}

export function currentOperator(): Operator {
  let osUser: string;
  try {
    osUser = os.userInfo().username;
  } catch {
    // A uid without a passwd entry (docker run --user 1234) makes userInfo() throw.
    osUser = process.env.USER || process.env.LOGNAME || `uid:${process.getuid?.() ?? 'unknown'}`;
  }
  return { osUser, host: os.hostname() };
}
