// The seam every feature records audit events through. The implementation (buffered
// writes to the audit_events table, a metric for drops) lives beside it; recording must
// never fail or slow the user's request, so `record` returns nothing to await.

export interface AuditEvent {
  /** Dotted, stable type, e.g. `login.failure`, `token.issued`, `client.secret_rotated`. */
  readonly type: string;
  /** Who acted: an account id, a client id, `cli` or `system`. */
  readonly actor?: string | undefined;
  readonly accountId?: string | undefined;
  readonly clientId?: string | undefined;
  readonly ip?: string | undefined;
  readonly userAgent?: string | undefined;
  readonly requestId?: string | undefined;
  /** Extra facts (scopes, grant type, reason). Never a token, secret, code or password. */
  readonly data?: Readonly<Record<string, unknown>>;
}

export interface AuditSink {
  record(event: AuditEvent): void;
}

/** For tests and tools that do not keep an audit trail. */
export const discardAudit: AuditSink = Object.freeze({ record() {} });

/** The request facts every event from an HTTP request carries. */
export function requestFacts(ctx: { ip: string; get(name: string): string; state: object }) {
  return {
    ip: ctx.ip,
    userAgent: ctx.get('User-Agent').slice(0, 512) || undefined,
    requestId: (ctx.state as { requestId?: unknown }).requestId as string | undefined,
  };
}

/** Fills the fields an event leaves out (e.g. `actor: 'cli'` for everything a CLI run does). */
export function withAuditDefaults(sink: AuditSink, defaults: Omit<AuditEvent, 'type' | 'data'>): AuditSink {
  return {
    record(event) {
      const filled: Record<string, unknown> = { ...event };
      for (const [key, value] of Object.entries(defaults)) filled[key] ??= value;
      sink.record(filled as unknown as AuditEvent);
    },
  };
}

/**
 * The event types Portcullis records, for readers of the trail (`portcullis events
 * --type`). Features may add types; keep them dotted, lower case, past tense.
 */
export const AUDIT_EVENT_TYPES = {
  'login.success': 'a person logged in with their password',
  'login.failure': 'a login was refused (data.reason)',
  'login.blocked': 'repeated failures blocked logins for an address or an account and address (data.scope, data.seconds)',
  'rate_limit.blocked': 'a request was refused by an abuse limit (data.tier)',
  'consent.granted': 'a person granted a client scopes or resources (data.scopes)',
  'consent.denied': 'a person refused a client',
  'consent.revoked': 'a person revoked what they had granted a client: one authorization (data.grantId) or every one and the consent (data.all)',
  'token.issued': 'the token endpoint issued tokens (data.grantType, data.scope, data.resource; never a token)',
  'token.revoked': 'a client revoked one of its tokens (data.tokenType)',
  'token.refresh_reuse_detected': 'a rotated refresh token was presented again; its grant was revoked',
  'grant.revoked': 'every token of one grant was revoked (data.reason: revocation, refresh_token_reuse, logout, operator, ...)',
  logout: 'a person ended their session, or their session with one client (data.scope)',
  'client.created': 'a client was registered',
  'client.updated': 'a client registration changed (data.fields)',
  'client.secret_rotated': "a confidential client's secret was replaced",
  'client.deleted': 'a client was deleted, and every grant, token and consent it held ended (data.grants, data.tokens)',
  'client.tokens_revoked': "every grant, token and consent of a client was ended; its client-credentials JWTs stop verifying (data.grants, data.tokens)",
  'user.created': 'an account was created',
  'user.updated': 'an account\'s name, roles or verified flag changed (data.fields)',
  'user.disabled': 'an account was disabled, and every grant, token and session it held ended (data.grants, data.tokens)',
  'user.tokens_revoked': 'every grant, token, session and consent of an account was ended (data.grants, data.tokens)',
  'user.enabled': 'an account was enabled again',
  'user.password_changed': "an account's password was set",
  'key.created': 'a signing or cookie key was generated (data.kid, data.alg)',
  'key.activated': 'a signing key started signing',
  'key.retired': 'a signing key stopped signing',
} as const satisfies Record<string, string>;
