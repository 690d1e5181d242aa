import type { Prisma, PrismaClient } from '../db/index.ts';

// Reading the audit trail back (the `portcullis events` command, the admin API's /audit-events). Every filter maps to an
// index of audit_events: (type, time), (account_id, time), (client_id, time), (time).
// Stored types are plain strings, not the catalogue's: the table keeps rows written by
// earlier versions for EVENT_RETENTION_DAYS, and a filter may name a family (`login.*`).

export interface AuditFilter {
  /** Exact types, or prefixes written `login.*`. */
  readonly types?: readonly string[];
  readonly accountId?: string;
  readonly clientId?: string;
  readonly since?: Date;
  /** Events before this time only. */
  readonly until?: Date;
}

export interface AuditRecord {
  readonly id: string;
  readonly time: string;
  readonly type: string;
  readonly actor: string | null;
  readonly accountId: string | null;
  readonly clientId: string | null;
  readonly ip: string | null;
  readonly userAgent: string | null;
  readonly requestId: string | null;
  readonly data: unknown;
}

/**
 * Whether Postgres can compare a time with `time`: years 1 to 9999 in UTC. JavaScript's Date
 * also holds year 0 and negative years, which Postgres refuses with an error (a 500).
 */
export function isStorableTime(date: Date): boolean {
  const year = date.getUTCFullYear();
  return !Number.isNaN(date.getTime()) && year >= 1 && year <= 9999;
}

/** A family's prefix, to be read literally by LIKE (Prisma's startsWith leaves `_` and `%` wildcards): each escaped with a backslash. */
const literalPrefix = (prefix: string) => prefix.replace(/[\\%_]/g, (char) => `\\${char}`);

function where(filter: AuditFilter): Prisma.AuditEventWhereInput {
  const types = (filter.types ?? []).map((type) =>
    type.endsWith('*') ? { type: { startsWith: literalPrefix(type.slice(0, -1)) } } : { type },
  );
  return {
    ...(types.length > 0 && { OR: types }),
    ...(filter.accountId && { accountId: filter.accountId }),
    ...(filter.clientId && { clientId: filter.clientId }),
    ...((filter.since || filter.until) && { time: { ...(filter.since && { gte: filter.since }), ...(filter.until && { lt: filter.until }) } }),
  };
}

function toRecord(row: Prisma.AuditEventGetPayload<object>): AuditRecord {
  return {
    // BIGSERIAL: a string, since JSON has no 64-bit integers.
    id: row.id.toString(),
    time: row.time.toISOString(),
    type: row.type,
    actor: row.actor,
    accountId: row.accountId,
    clientId: row.clientId,
    ip: row.ip,
    userAgent: row.userAgent,
    requestId: row.requestId,
    data: row.data,
  };
}

/** The audit trail as its readers see it (the CLI, through Services). */
export interface AuditTrail {
  /** The newest `limit` matching events, oldest first (as `tail` prints). */
  list(filter: AuditFilter, limit: number): Promise<AuditRecord[]>;
  /** Matching events with an id above `afterId`, in id order (for --follow). */
  listAfter(filter: AuditFilter, afterId: bigint, limit: number): Promise<AuditRecord[]>;
  /**
   * Matching events newest first, `limit` of them, below the id `before` if given: pages
   * that stay put while events are added (keyset paging; an offset would shift).
   */
  page(filter: AuditFilter, options: { readonly before?: bigint; readonly limit: number }): Promise<AuditRecord[]>;
  /** The highest event id so far (0 for an empty trail). */
  lastId(): Promise<bigint>;
}

export function createAuditTrail(prisma: PrismaClient): AuditTrail {
  return {
    async list(filter, limit) {
      const rows = await prisma.auditEvent.findMany({ where: where(filter), orderBy: [{ time: 'desc' }, { id: 'desc' }], take: limit });
      return rows.reverse().map(toRecord);
    },
    async listAfter(filter, afterId, limit) {
      const rows = await prisma.auditEvent.findMany({ where: { ...where(filter), id: { gt: afterId } }, orderBy: { id: 'asc' }, take: limit });
      return rows.map(toRecord);
    },
    async page(filter, { before, limit }) {
      const rows = await prisma.auditEvent.findMany({ where: { ...where(filter), ...(before !== undefined && { id: { lt: before } }) }, orderBy: { id: 'desc' }, take: limit });
      return rows.map(toRecord);
    },
    async lastId() {
      const { _max } = await prisma.auditEvent.aggregate({ _max: { id: true } });
      return _max.id ?? 0n;
    },
  };
}
