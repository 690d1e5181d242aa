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
