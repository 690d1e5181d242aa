// The audit trail: what happened, who did it, from where. Features record through the
// sink, the writer stores (buffered, never in the request's way), the trail reads back.
export { AUDIT_EVENT_TYPES, type AuditEventType } from './event-types.ts';
export { discardAudit, requestFacts, withAuditDefaults, type ActedBy, type AuditEvent, type AuditSink } from './sink.ts';
export { createAuditWriter, type AuditWriter, type AuditWriterOptions } from './writer.ts';
export { createAuditTrail, isStorableTime, type AuditFilter, type AuditRecord, type AuditTrail } from './reader.ts';
