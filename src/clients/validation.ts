import { z } from 'zod';

// The small rules every registry input shares, once: accounts, clients, resource servers,
// the import file and the CLI all check names, roles, scope tokens and ids with these, so
// a value accepted on one surface is accepted on all.

/**
 * Control characters (C0, DEL, C1): never in text we store or search. Postgres refuses a NUL
 * in text (a 500 if it got that far), and the others forge lines in logs and terminals.
 */
export const CONTROL_CHARACTERS = /\p{Cc}/u;

/** Text without control characters; the message every schema uses for them. */
export const noControlCharacters = (value: string) => !CONTROL_CHARACTERS.test(value);
export const NO_CONTROL_CHARACTERS = 'must not contain control characters';

/**
 * Invisible characters and text-direction marks and overrides: in a name shown to people (a
 * consent page, an app) they make one name pass for another (`adm\u202Enimda` reads
 * "adminadmin" reversed): every format character (Cf: bidi controls, zero-width spaces, soft
 * hyphens, tags) but the joiners that scripts spell words with (ZWNJ, ZWJ), and the Hangul
 * fillers, which are letters that show nothing.
 */
export const SPOOFING_CHARACTERS = /(?![\u200C\u200D])[\p{Cf}\u115F\u1160\u3164\uFFA0]/u;
export const NO_SPOOFING_CHARACTERS = 'must not contain invisible or text-direction characters';

/** A display name (account, client, resource server): trimmed, shown to people. */
export const nameSchema = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(200, 'must be at most 200 characters')
  .refine(noControlCharacters, NO_CONTROL_CHARACTERS)
  .refine((value) => !SPOOFING_CHARACTERS.test(value), NO_SPOOFING_CHARACTERS);

/** An RBAC role: a lowercase word, as granted to accounts and required by resource scopes. */
export const roleSchema = z.string().regex(/^[a-z0-9][a-z0-9:._-]{0,63}$/, 'roles are lowercase words of at most 64 characters');

/** A scope token (RFC 6749 section 3.3: printable ASCII without space, quote or backslash). */
export const scopeTokenSchema = z
  .string()
  .regex(/^[\x21\x23-\x5B\x5D-\x7E]{1,100}$/, 'scopes are 1-100 printable characters without spaces, quotes or backslashes');

/** A client id, chosen or generated: never read as a CLI flag, safe in a URL and a log line. */
export const clientIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._~-]{2,99}$/, 'must be 3-100 characters of letters, digits and . _ ~ -, starting with a letter or digit');

/**
 * Whether a registered client could have this id: every id was checked against the rule
 * above when it was registered, so any other value (a NUL, a control character, 10 kB of
 * text) names no client and need not be looked up (Postgres refuses a NUL in text).
 */
export function isPossibleClientId(value: string): boolean {
  return clientIdSchema.safeParse(value).success;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether a value is a UUID (an account id): anything else names no account. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/** Hosts where plain http is acceptable: the machine itself (development, native apps). */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '127.0.0.1' || hostname === '[::1]';
}
