import type { AuditEventType } from './event-types.ts';

// The seam every feature records audit events through. The implementation (buffered
// writes to the audit_events table, a metric for drops) lives beside it; recording must
// never fail or slow the user's request, so `record` returns nothing to await.

export interface AuditEvent {
  /** One of the catalogue's types (event-types.ts), e.g. `login.failure`, `token.issued`. */
  readonly type: AuditEventType;
  /** Who acted: an account id, a client id (`client:<id>` from the admin API), `cli` or `system`. */
  readonly actor?: string | undefined;
  readonly accountId?: string | undefined;
  readonly clientId?: string | undefined;
  readonly ip?: string | undefined;
  readonly userAgent?: string | undefined;
  readonly requestId?: string | undefined;
  /** Extra facts (scopes, grant type, reason). Never a token, secret, code or password. */
  readonly data?: Readonly<Record<string, unknown>>;
}

/**
 * Who made a change, when not the sink's default: an operator through the admin API (an
 * account id, or `client:<id>` for a client's own token) with the request's facts.
 */
export interface ActedBy {
  readonly actor: string;
  readonly ip?: string | undefined;
  readonly userAgent?: string | undefined;
  readonly requestId?: string | undefined;
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

/**
 * Fills the fields an event leaves out (e.g. `actor: 'cli'` for everything a CLI run does).
 * `data` defaults are merged under the event's own facts (the operator's OS user and host
 * on every CLI event), never over them.
 */
export function withAuditDefaults(sink: AuditSink, defaults: Omit<AuditEvent, 'type'>): AuditSink {
  const { data: dataDefaults, ...fields } = defaults;
  return {
    record(event) {
      const filled: Record<string, unknown> = { ...event };
      for (const [key, value] of Object.entries(fields)) filled[key] ??= value;
      if (dataDefaults) filled.data = { ...dataDefaults, ...event.data };
      sink.record(filled as unknown as AuditEvent);
    },
  };
}
