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
export function requestFacts(ctx: { ip: string; get(name: string): string; state: Record<string, unknown> }) {
  return {
    ip: ctx.ip,
    userAgent: ctx.get('User-Agent').slice(0, 512) || undefined,
    requestId: typeof ctx.state.requestId === 'string' ? ctx.state.requestId : undefined,
  };
}
