export { accountColumns, accountFromRow, accountIdAsUuid, createAccountStore, type AccountStore, type AccountRecord, type UpdateConditions } from './account-store.ts';
export {
  createAccountService,
  type AccountService,
  type AccountTokenRevoker,
  type AuthenticationResult,
  type ChangeGuard,
} from './account-service.ts';
export { createArgon2Hasher, OWASP_ARGON2ID, MAX_PASSWORD_BYTES, type PasswordHasher, type Argon2Parameters } from './password-hasher.ts';
export { MAX_EMAIL_LENGTH, normalizeEmail, plainAddress } from './normalize-email.ts';
export { accountView } from './account-view.ts';
export {
  accountCreateSchema,
  accountUpdateSchema,
  emailSchema,
  rolesSchema,
  type AccountCreateInput,
  type AccountUpdateInput,
} from './account-input.ts';
export { claimsFor, SUPPORTED_CLAIMS, type AccountClaims } from './claims.ts';
export { checkPassword, newPasswordProblem, passwordProblem, MIN_PASSWORD_LENGTH, MIN_STRENGTH, type PasswordProblem } from './password-policy.ts';
export { createPasswordResetStore, type PasswordResetStore } from './password-reset-store.ts';
export { createPasswordResets, type PasswordResets, type ResetRequest, type ResetOutcome } from './password-resets.ts';
export { createSecondFactorStore, type SecondFactorStore, type FactorCounts } from './second-factor-store.ts';
export { MAILBOX_CODE_TTL_MS, type MailboxProofs } from './mailbox-proof.ts';
export { createSecondFactors, type SecondFactors, type Enrolment, type FactorState, type VerifyOutcome } from './second-factors.ts';
export { createSignUpStore, type SignUpStore, type Invitation, type SignUpLink } from './sign-up-store.ts';
export { createSignUps, type SignUps, type SignUpRequest, type SignUpOutcome, type InvitationCheck } from './sign-ups.ts';
export { createEmailChanges, EMAIL_CHANGE_TTL_SECONDS, type EmailChanges, type EmailChangeOutcome } from './email-changes.ts';
export { createPasskeyStore } from './passkey-store.ts';
export { createPasskeys, passkeyNameSchema, MAX_PASSKEYS, type Passkeys, type PasskeyView } from './passkeys.ts';
