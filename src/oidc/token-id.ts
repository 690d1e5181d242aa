import { createHash } from 'node:crypto';

// Bearer values (refresh and access tokens, codes, session ids, pushed request ids) are
// stored only as their SHA-256: a read-only copy of the database yields no live
// credential. Plain SHA-256 suffices because every value is long and random (the engine
// makes tokens and codes of 256 bits, session and pushed request ids of 126): nothing to
// guess, so a key would only add a secret to lose. (Interaction ids are not among them:
// they travel in URLs and the engine keeps them in the interaction's own payload.)

/** The engine's models whose row id is itself a bearer credential. */
export const HASHED_MODELS: ReadonlySet<string> = new Set([
  'Session',
  'AuthorizationCode',
  'AccessToken',
  'RefreshToken',
  'ClientCredentials',
  'PushedAuthorizationRequest',
  'DeviceCode',
  'RegistrationAccessToken',
]);

/** The stored id of a bearer value: base64url SHA-256, as the migration computes it in SQL. */
export function hashTokenId(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('base64url');
}

/** The row id a model's value is stored under. */
export function storedId(model: string, value: string): string {
  return HASHED_MODELS.has(model) ? hashTokenId(value) : value;
}
