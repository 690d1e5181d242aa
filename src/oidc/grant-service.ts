import { discardAudit, type ActedBy, type AuditSink } from '../audit/index.ts';
import type { ConsentRecord, GrantRow, RevocationCount, SessionRow, TokenStore } from './token-store.ts';

export type { RevocationCount } from './token-store.ts';

// What people granted to apps, and taking it back. A grant is one authorization (one
// sign-in to one app on one device, see consent-reuse.ts); revoking it deletes it and every
// code, access and refresh token stored under it, in one transaction, so it is gone for
// every instance at once. JWT access tokens name their grant (access-token-verifier.ts)
// and stop verifying the moment the grant row is gone.

export interface GrantSummary {
  readonly id: string;
  readonly clientId: string;
  readonly accountId: string;
  /** OIDC scopes granted (openid, email, ...). */
  readonly scopes: readonly string[];
  /** Resource indicator -> scopes granted for it. */
  readonly resources: Readonly<Record<string, readonly string[]>>;
  readonly createdAt: Date;
  readonly expiresAt: Date | null;
}

/** A browser session: one browser signed in, and the clients it authorized. */
export interface SessionSummary {
  /** The session's uid (not its cookie, which is stored only hashed). */
  readonly id: string;
  readonly signedInAt: Date | null;
  readonly expiresAt: Date | null;
  readonly acr: string | null;
  readonly amr: readonly string[];
  /** Clients authorized in this session, each with the grant it holds. */
  readonly clients: readonly { readonly clientId: string; readonly grantId: string | null }[];
}

export interface GrantService {
  listForAccount(accountId: string): Promise<GrantSummary[]>;
  find(grantId: string): Promise<GrantSummary | undefined>;
  /**
   * One authorization: one device's tokens. With a reason (`operator`, ...) it is recorded
   * as `grant.revoked` (by `by`, when not the sink's default actor), once: only when it
   * ended the grant; callers that record the act in their own words pass none.
   */
  revokeGrant(grantId: string, reason?: string, by?: ActedBy): Promise<RevocationCount>;
  /** Every authorization a person gave one client, and the consent remembered for it. */
  revokeClientForAccount(accountId: string, clientId: string): Promise<RevocationCount>;
  /** Every grant, token, browser session and remembered consent of the account. */
  revokeAccount(accountId: string): Promise<RevocationCount>;
  /** Every grant and token of the client (client-credentials tokens included) and the consent people gave it. */
  revokeClient(clientId: string): Promise<RevocationCount>;
  listSessions(accountId: string): Promise<SessionSummary[]>;
  /**
   * Signs one browser out: the session ends, and every grant made in it with every token
   * under it (a lost or stolen device keeps nothing). Recorded as `session.ended` (by `by`),
   * once; false when the account had no such session (already ended, or another's).
   */
  endSession(accountId: string, sessionId: string, by?: ActedBy): Promise<{ ended: boolean } & RevocationCount>;
  /** Adds to what the person is remembered to have allowed the client. */
  rememberConsent(accountId: string, clientId: string, consent: ConsentRecord): Promise<void>;
}

interface GrantPayload {
  iat?: number;
  openid?: { scope?: string };
  resources?: Record<string, string>;
}

function toSummary(row: GrantRow): GrantSummary {
  const payload = row.payload as GrantPayload;
  const split = (scope: string | undefined) => (scope ?? '').split(' ').filter(Boolean);
  return {
    id: row.id,
    clientId: row.clientId ?? '',
    accountId: row.accountId ?? '',
    scopes: split(payload.openid?.scope),
    resources: Object.fromEntries(Object.entries(payload.resources ?? {}).map(([indicator, scope]) => [indicator, split(scope)])),
    createdAt: new Date((payload.iat ?? 0) * 1000),
    expiresAt: row.expiresAt,
  };
}

interface SessionPayload {
  loginTs?: number;
  acr?: string;
  amr?: string[];
  authorizations?: Record<string, { grantId?: unknown } | null>;
}

function toSession(row: SessionRow): SessionSummary {
  const payload = (row.payload ?? {}) as SessionPayload;
  return {
    id: row.uid,
    signedInAt: typeof payload.loginTs === 'number' ? new Date(payload.loginTs * 1000) : null,
    expiresAt: row.expiresAt,
    acr: typeof payload.acr === 'string' ? payload.acr : null,
    amr: Array.isArray(payload.amr) ? payload.amr.filter((method) => typeof method === 'string') : [],
    clients: Object.entries(payload.authorizations ?? {}).map(([clientId, entry]) => ({ clientId, grantId: typeof entry?.grantId === 'string' ? entry.grantId : null })),
  };
}

export function createGrantService(store: TokenStore, audit: AuditSink = discardAudit): GrantService {
  return {
    async listForAccount(accountId) {
      const rows = await store.listGrants({ accountId });
      return rows.map(toSummary).sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
    },
    async find(grantId) {
      const row = await store.findGrant(grantId);
      return row ? toSummary(row) : undefined;
    },
    async revokeGrant(grantId, reason, by) {
      const row = reason ? await store.findGrant(grantId) : undefined;
      const count = await store.revokeGrants([grantId]);
      if (reason && count.grants > 0) {
        audit.record({
          type: 'grant.revoked',
          accountId: row?.accountId ?? undefined,
          clientId: row?.clientId ?? undefined,
          data: { grantId, reason, tokens: count.tokens },
          ...by,
        });
      }
      return count;
    },
    async revokeClientForAccount(accountId, clientId) {
      const result = await store.revokeGrants(await store.grantIds({ accountId, clientId }));
      await store.forgetConsent({ accountId, clientId });
      return result;
    },
    async revokeAccount(accountId) {
      const result = await store.revokeGrants(await store.grantIds({ accountId }));
      await store.endSessions(accountId);
      await store.forgetConsent({ accountId });
      return result;
    },
    async revokeClient(clientId) {
      const result = await store.revokeGrants(await store.grantIds({ clientId }));
      const machineTokens = await store.deleteUngrantedTokens(clientId);
      await store.forgetConsent({ clientId });
      return { grants: result.grants, tokens: result.tokens + machineTokens };
    },
    async listSessions(accountId) {
      const rows = await store.listSessions(accountId);
      return rows.map(toSession).sort((a, b) => (b.signedInAt?.getTime() ?? 0) - (a.signedInAt?.getTime() ?? 0));
    },
    async endSession(accountId, sessionId, by) {
      let session: SessionSummary | undefined;
      const grantsIn = (payload: unknown) => {
        session = toSession({ uid: sessionId, payload, expiresAt: null });
        return session.clients.flatMap(({ grantId }) => (grantId ? [grantId] : []));
      };
      const ended = await store.endSession(accountId, sessionId, grantsIn);
      if (!ended || !session) return { ended: false, grants: 0, tokens: 0 };
      audit.record({
        type: 'session.ended',
        accountId,
        data: { session: session.id, clients: session.clients.map(({ clientId }) => clientId), grants: ended.grants, tokens: ended.tokens },
        ...by,
      });
      return { ended: true, grants: ended.grants, tokens: ended.tokens };
    },
    rememberConsent: (accountId, clientId, consent) => store.rememberConsent(accountId, clientId, consent),
  };
}
