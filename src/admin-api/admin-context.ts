import type { Middleware, ParameterizedContext } from 'koa';

import type { AccessTokenState } from '../account-api/index.ts';
import type { AccountService, SecondFactors } from '../accounts/index.ts';
import { requestFacts, type ActedBy, type AuditSink, type AuditTrail } from '../audit/index.ts';
import type { ThrottleReleaseStore } from '../db/index.ts';
import { isUuid, type ClientService, type ResourceService } from '../clients/index.ts';
import { NotFoundError, ValidationError } from '../errors.ts';
import type { AccessTokenVerifier, DpopReplayStore, GrantService, KeyRotation, VerifiedAccessToken } from '../oidc/index.ts';
import type { SettingsView } from './settings-view.ts';

// What the admin API's router (admin-api.ts) and its route files share: its deps, the
// request context, the scope guards, and who acts. Here, so neither imports the other.

export interface AdminApiDeps {
  readonly issuer: string;
  readonly verifier: AccessTokenVerifier;
  /** DPoP proofs already spent, shared by every instance. */
  readonly replays: DpopReplayStore;
  readonly accounts: AccountService;
  readonly clients: ClientService;
  /** People's grants: listed and revoked (/users/{id}/grants). */
  readonly grants: GrantService;
  /** Resource servers and their scopes (/resource-servers). */
  readonly resources: ResourceService;
  readonly audit: AuditSink;
  /** The audit trail, read back (/audit-events). */
  readonly auditTrail: AuditTrail;
  /** Authenticators and recovery codes (/users/:id/reset-factors). */
  readonly secondFactors: SecondFactors;
  /** Where `users unblock` leaves its releases; without it there is no unblock route. */
  readonly throttleReleases?: ThrottleReleaseStore | undefined;
  /** Announced key rotation (/keys). */
  readonly keyRotation: Pick<KeyRotation, 'list' | 'rotate'>;
  /** The settings this instance runs with, without secrets (settings-view.ts), for GET /settings. */
  readonly settings: SettingsView;
  /** The per-subject request budget (rate limits), run once the token is verified. */
  readonly perSubject?: Middleware | undefined;
}

/** How long one subject's refusals are audited once (admin.refused). */
export const REFUSAL_AUDIT_WINDOW_MS = 60_000;

export type AdminContext = ParameterizedContext<AccessTokenState>;

/** Who acts with this token: the person (their account id), or the client itself (`client:<id>`). */
export function actorOf(token: VerifiedAccessToken): string {
  return token.issuedTo === 'person' && token.sub ? token.sub : `client:${token.clientId}`;
}

/** The actor and request facts every change is audited with. */
export function actedBy(ctx: AdminContext): ActedBy {
  return { actor: actorOf(ctx.state.accessToken), ...requestFacts(ctx) };
}

/** The request body, which must be a JSON object (readJsonBody parsed it). */
export function bodyObject(ctx: AdminContext, optional = false): Record<string, unknown> {
  const body: unknown = ctx.request.body;
  if (body === undefined && optional) return {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ValidationError('input: the body must be a JSON object');
  return body as Record<string, unknown>;
}

export interface Guards {
  readonly read: Middleware<AccessTokenState>;
  readonly write: Middleware<AccessTokenState>;
}


/** The account a path names, or 404 (accounts are addressed by id: an email in a URL ends up in access logs). */
export async function userOfPath(accounts: Pick<AccountService, 'findById'>, id: string) {
  const account = isUuid(id) ? await accounts.findById(id) : undefined;
  if (!account) throw new NotFoundError(`no user ${id.slice(0, 100)}`);
  return account;
}
