import type { AuditEventType } from '../../src/audit/index.ts';

/**
 * A type outside the catalogue, for tests of the writer and the reader: the table stores
 * whatever type it is given, and a type no feature records lets a test find its own rows
 * in a shared database. Features cannot do this: `AuditEvent['type']` is the catalogue's.
 */
export function testEventType(type: `test.${string}` | `other.${string}`): AuditEventType {
  return type as AuditEventType;
}
