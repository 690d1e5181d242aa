import type { AccountRecord, AccountService, SecondFactors } from '../accounts/index.ts';
import type { ActedBy, AuditSink } from '../audit/index.ts';
import type { ThrottleReleaseStore } from '../db/index.ts';
import type { GrantService, RevocationCount } from '../oidc/index.ts';
import { ADMIN_ROLE } from './admin-resource.ts';

// What an operator does to a person's account beyond the service's own changes, once for
// both administration surfaces (this API's routes and the admin console's pages): each
// audited with the operator as the actor, as the CLI's commands are.

// Grant ids and session uids are the engine's: URL-safe characters, well under this.
const ENGINE_ID = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * The guard every operator's change of an account runs with: administration must stay
 * possible, so nobody disables themself or takes their own admin role, and no change leaves
 * no enabled account with it (409, checked with the write); `ifUpdatedAt` writes only onto
 * the version the operator was shown.
 */
export function operatorGuard(actorAccountId: string | undefined, ifUpdatedAt?: Date) {
  return { keepRoleHeld: ADMIN_ROLE, actorAccountId, ifUpdatedAt };
}

/**
 * A lost or stolen phone, as `portcullis users reset-factors` does it: the authenticator,
 * passkeys and recovery codes go, and so does every session, grant and token of the account
 * (whoever signed in with that phone must not stay signed in).
 */
export async function resetFactors(deps: { accounts: Pick<AccountService, 'revokeTokens'>; secondFactors: Pick<SecondFactors, 'reset'>; audit: AuditSink }, account: AccountRecord, by: ActedBy) {
  const removed = await deps.secondFactors.reset(account.id);
  deps.audit.record({ type: 'mfa.reset', accountId: account.id, data: { removed }, ...by });
  const { grants, tokens } = await deps.accounts.revokeTokens(account.id, by);
  return { removed, grants, tokens };
}

/** Lifts the password throttle's blocks of the account on every address, as `portcullis users unblock` does: running servers apply it at the next attempt. */
export async function unblockAccount(deps: { throttleReleases: ThrottleReleaseStore; audit: AuditSink }, account: AccountRecord, by: ActedBy): Promise<void> {
  await deps.throttleReleases.add({ subject: account.email });
  deps.audit.record({ type: 'login.unblocked', accountId: account.id, data: { scope: 'account' }, ...by });
}

/**
 * Ends one grant of this person and every token under it, recorded as grant.revoked once
 * (concurrent requests end it once). A grant that is not this person's (or no grant id at
 * all) ends nothing: the API answers the same, so nothing is learnt about others' grants;
 * true when this person's grant was found and ended.
 */
export async function revokePersonsGrant(grants: Pick<GrantService, 'find' | 'revokeGrant'>, accountId: string, grantId: string, by: ActedBy): Promise<boolean> {
  const grant = ENGINE_ID.test(grantId) ? await grants.find(grantId) : undefined;
  if (!grant || grant.accountId !== accountId) return false;
  await grants.revokeGrant(grant.id, 'operator', by);
  return true;
}

/** Signs one browser of this person out (another's session, or no session id, ends nothing). */
export async function endPersonsSession(grants: Pick<GrantService, 'endSession'>, accountId: string, sessionId: string, by: ActedBy): Promise<({ ended: boolean } & RevocationCount) | undefined> {
  return ENGINE_ID.test(sessionId) ? grants.endSession(accountId, sessionId, by) : undefined;
}
