import { ValidationError } from '../errors.ts';
import { MAX_PASSWORD_BYTES } from './password-hasher.ts';

// What a new password must be, wherever one is set (CLI, import, reset page): at least
// MIN_PASSWORD_LENGTH characters, at most what the hasher accepts (argon2's cost is per
// byte). No check against lists of common passwords yet (issue 14 brings one with sign-up).

export const MIN_PASSWORD_LENGTH = 8;

export type PasswordProblem = 'too_short' | 'too_long';

/** What is wrong with a new password, or undefined when it may be set. */
export function passwordProblem(password: string): PasswordProblem | undefined {
  if ([...password].length < MIN_PASSWORD_LENGTH) return 'too_short';
  if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) return 'too_long';
  return undefined;
}

/** As passwordProblem, as a ValidationError naming the field (CLI and import). */
export function checkPassword(password: string): void {
  const problem = passwordProblem(password);
  if (problem === 'too_short') throw new ValidationError(`password: must be at least ${MIN_PASSWORD_LENGTH} characters`);
  if (problem === 'too_long') throw new ValidationError(`password: must be at most ${MAX_PASSWORD_BYTES} bytes`);
}
