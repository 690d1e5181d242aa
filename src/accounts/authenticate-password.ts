import { ValidationError } from '../errors.ts';
import type { AuthenticationResult } from './account-service.ts';
import type { AccountRecord, AccountStore } from './account-store.ts';
import { normalizeEmail } from './normalize-email.ts';
import { MAX_PASSWORD_BYTES, type PasswordHasher } from './password-hasher.ts';

// Checking an email and password (account-service.ts). Rules:
// - Unknown email, malformed email, account without a password, wrong password and
//   disabled account all cost one argon2 verification (against a real hash of a random
//   password when there is no hash), so timing does not tell them apart.
// - Only a right password learns that the account is disabled.
// - A password over the hasher's byte limit is refused before any hashing.
// - A failure names the account the email belongs to, if any, for the audit trail; what
//   the person is shown does not depend on it.
// - A hash made with older parameters is replaced on a successful login.

export function createPasswordAuthentication(deps: {
  store: AccountStore;
  hasher: PasswordHasher;
}): (rawEmail: string, password: string) => Promise<AuthenticationResult> {
  const { store, hasher } = deps;
  // A real hash of a random password, made once: verifying against it costs what a real
  // verification costs.
  let dummyHash: Promise<string> | undefined;
  const getDummyHash = () => (dummyHash ??= hasher.hash(crypto.randomUUID()));

  return async function authenticate(rawEmail, password) {
    if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) {
      return { ok: false, reason: 'invalid_credentials' };
    }
    let account: AccountRecord | undefined;
    try {
      account = await store.findByEmail(normalizeEmail(rawEmail));
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
    }
    const hashToCheck = account?.passwordHash ?? (await getDummyHash());
    const matches = await hasher.verify(hashToCheck, password);
    if (!account) return { ok: false, reason: 'invalid_credentials' };
    if (!account.passwordHash || !matches) return { ok: false, reason: 'invalid_credentials', accountId: account.id };
    if (account.disabled) return { ok: false, reason: 'disabled', accountId: account.id };
    if (hasher.needsRehash(account.passwordHash)) {
      account = await store.update(account.id, { passwordHash: await hasher.hash(password) });
    }
    return { ok: true, account };
  };
}
