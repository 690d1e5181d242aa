import { ValidationError } from '../errors.ts';
import { MAX_PASSWORD_BYTES } from './password-hasher.ts';

// What a new password must be: at least MIN_PASSWORD_LENGTH characters, at most what the
// hasher accepts (argon2's cost is per byte), wherever one is set (CLI, import, pages).
// Where a person chooses their own (the reset page; sign-up later), also not guessable:
// zxcvbn-ts (with its common-passwords and names dictionaries, shipped in the package, never
// sent anywhere) must rate it at least MIN_STRENGTH of 4, counting the person's own email
// and name as guessable words. Operators setting a password from the CLI keep the length
// rules only.

export const MIN_PASSWORD_LENGTH = 8;

export type PasswordProblem = 'too_short' | 'too_long' | 'too_common';

/**
 * zxcvbn's score: 0 and 1 are "too guessable" (common passwords, keyboard walks, a common
 * word with digits or l33t: password123, qwertyuiop, P@ssw0rd!); 2 and up pass.
 */
export const MIN_STRENGTH = 2;

/** What is wrong with a new password, or undefined when it may be set. */
export function passwordProblem(password: string): PasswordProblem | undefined {
  if ([...password].length < MIN_PASSWORD_LENGTH) return 'too_short';
  if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) return 'too_long';
  return undefined;
}

/**
 * zxcvbn's cost grows steeply with length (about 250 ms of CPU for 1,024 bytes), and
 * anyone holding a link may ask again and again: only this many characters are judged.
 * Sixty-four characters that zxcvbn does not find guessable are not made guessable by more.
 */
export const STRENGTH_PREFIX = 64;

/** The part of a password zxcvbn judges: its first STRENGTH_PREFIX characters (code points, never half a pair). */
export const strengthInput = (password: string) => [...password].slice(0, STRENGTH_PREFIX).join('');

export type Strength = (password: string, userInputs: string[]) => number;
let strength: Promise<Strength> | undefined;

/** The estimator, loaded on first use: its dictionaries cost memory only where people choose passwords. */
function loadStrength(): Promise<Strength> {
  strength ??= (async () => {
    const [{ ZxcvbnFactory }, common] = await Promise.all([import('@zxcvbn-ts/core'), import('@zxcvbn-ts/language-common')]);
    // maxLength too, in case a caller ever hands it the whole password.
    const zxcvbn = new ZxcvbnFactory({ dictionary: { ...common.dictionary }, graphs: common.adjacencyGraphs, maxLength: STRENGTH_PREFIX });
    return (password, userInputs) => zxcvbn.check(password, userInputs).score;
  })();
  return strength;
}

/**
 * A password a person chose for themselves: the length rules, then not guessable.
 * `userInputs`: words of the account (email, name) that make a password guessable;
 * `estimate`: zxcvbn's score by default (tests watch what it is given).
 */
export async function newPasswordProblem(password: string, userInputs: readonly string[] = [], estimate?: Strength): Promise<PasswordProblem | undefined> {
  const problem = passwordProblem(password);
  if (problem) return problem;
  const words = userInputs.flatMap((input) => input.toLowerCase().split(/[^\p{L}\p{N}]+/u)).filter((word) => word.length >= 3);
  const score = (estimate ?? (await loadStrength()))(strengthInput(password), words);
  return score < MIN_STRENGTH ? 'too_common' : undefined;
}

/** The length rules as a ValidationError naming the field (CLI and import). */
export function checkPassword(password: string): void {
  const problem = passwordProblem(password);
  if (problem === 'too_short') throw new ValidationError(`password: must be at least ${MIN_PASSWORD_LENGTH} characters`);
  if (problem === 'too_long') throw new ValidationError(`password: must be at most ${MAX_PASSWORD_BYTES} bytes`);
}
