import { ValidationError } from '../errors.ts';

export const MAX_EMAIL_LENGTH = 254;
// Deliberately permissive (RFC 5322 is not a regex problem): one @, a dot in the domain,
// no whitespace, control or invisible format characters (a zero-width space would make a
// second account that looks identical).
const EMAIL_SHAPE = /^[^\s@\p{Cc}\p{Cf}]+@[^\s@\p{Cc}\p{Cf}]+\.[^\s@\p{Cc}\p{Cf}]+$/u;

/**
 * The one form an email is stored and looked up in: NFKC, trimmed, lower-cased, so that
 * "Ann@Example.COM " and "ann@example.com" are one account.
 */
export function normalizeEmail(input: string): string {
  const email = input.normalize('NFKC').trim().toLowerCase();
  if (email.length === 0 || email.length > MAX_EMAIL_LENGTH || !EMAIL_SHAPE.test(email)) {
    throw new ValidationError('email: must be a valid email address of at most 254 characters');
  }
  return email;
}

/**
 * A dot-atom address (RFC 5322 3.2.3), letters (and their marks) of any script allowed: no quotes, comments,
 * brackets, commas, colons or semicolons, no empty label, no leading, trailing or doubled dot.
 */
const ATOM = "[\\p{L}\\p{M}\\p{N}!#$%&'*+/=?^_`{|}~-]+";
const LABEL = '[\\p{L}\\p{M}\\p{N}-]+';
const PLAIN_ADDRESS = new RegExp(`^${ATOM}(?:\\.${ATOM})*@${LABEL}(?:\\.${LABEL})+$`, 'u');

/**
 * The address typed, in the one form it is stored in, when it is one Portcullis mails in a
 * plain spelling: wherever an address typed is mailed (sign-up, a change of address),
 * comments, quotes, groups, lists or a domain ending in a dot reach a mailbox under another
 * name (another count, another account): only a dot-atom is taken.
 */
export function plainAddress(email: string): string | undefined {
  if (!email.includes('@') || email.length > MAX_EMAIL_LENGTH) return undefined;
  try {
    const normalized = normalizeEmail(email);
    return PLAIN_ADDRESS.test(normalized) ? normalized : undefined;
  } catch {
    return undefined;
  }
}
