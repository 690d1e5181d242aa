import type { AuditEvent, AuditSink } from '../../src/audit/index.ts';

/** An audit sink that keeps events in memory (nothing reaches audit_events). */
export function captureAudit(): AuditSink & { events: AuditEvent[] } {
  const events: AuditEvent[] = [];
  return {
    events,
    record(event) {
      events.push(event);
    },
  };
}
