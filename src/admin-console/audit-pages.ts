import type { AuditRecord, AuditTrail } from '../audit/index.ts';
import { auditQuerySchema } from '../admin-api/index.ts';
import { toValidationError } from '../errors.ts';
import { field, queryOf, type ShowConsolePage } from './console-page.ts';
import { ADMIN_CONSOLE_PATH } from './console-client.ts';
import type { ConsoleContext } from './console-session.ts';

// The audit trail at the console: filtered as the admin API's /audit-events and
// `portcullis events` filter it (the same query schema), newest first, a page at a time,
// and a live tail: /assets/admin-tail.js (no inline script) asks /admin/audit/tail for the
// events after the newest it has, every few seconds, and adds them to the table. Reading is
// not audited, as with the API.

const AUDIT_PATH = `${ADMIN_CONSOLE_PATH}/audit`;
const PAGE_SIZE = 50;
const TAIL_MAX = 100;

/** What an event's row shows: its data as one line of JSON, cut short. */
export function eventRow(event: AuditRecord) {
  const data = event.data === null || event.data === undefined ? '' : JSON.stringify(event.data);
  return { id: event.id, time: event.time, type: event.type, actor: event.actor ?? '', accountId: event.accountId ?? '', clientId: event.clientId ?? '', ip: event.ip ?? '', data: data.length > 300 ? `${data.slice(0, 299)}…` : data };
}

/** The filter form's fields as the API's query: empty fields left out, types separated by spaces. */
function filterOf(query: URLSearchParams) {
  const raw: Record<string, unknown> = {};
  for (const name of ['accountId', 'clientId', 'since', 'until', 'cursor']) {
    const value = field(query, name).trim();
    if (value !== '') raw[name] = value;
  }
  const types = field(query, 'type').split(/\s+/).filter((type) => type !== '');
  if (types.length > 0) raw.type = types;
  return { raw, parsed: auditQuerySchema.safeParse({ ...raw, limit: String(PAGE_SIZE) }) };
}

export function createAuditPages(deps: { auditTrail: AuditTrail; show: ShowConsolePage }) {
  const { auditTrail } = deps;

  return {
    async list(ctx: ConsoleContext) {
      const { raw, parsed } = filterOf(queryOf(ctx));
      const filters = { type: field(queryOf(ctx), 'type'), accountId: field(queryOf(ctx), 'accountId'), clientId: field(queryOf(ctx), 'clientId'), since: field(queryOf(ctx), 'since'), until: field(queryOf(ctx), 'until') };
      if (!parsed.success) {
        deps.show(ctx, 'admin-audit', 'audit', { title: 'Audit trail', filters, events: [], error: toValidationError(parsed.error).message }, 400);
        return;
      }
      const { type, accountId, clientId, since, until, cursor } = parsed.data;
      const found = await auditTrail.page({ types: type, accountId, clientId, since, until }, { before: cursor, limit: PAGE_SIZE + 1 });
      const events = found.slice(0, PAGE_SIZE).map(eventRow);
      const { cursor: _, ...kept } = raw;
      const older = found.length > PAGE_SIZE ? `${AUDIT_PATH}?${new URLSearchParams({ ...Object.fromEntries(Object.entries(kept).map(([name, value]) => [name, Array.isArray(value) ? value.join(' ') : String(value)])), cursor: events.at(-1)!.id }).toString()}` : undefined;
      // The tail follows only the first page (newest events), from its newest one.
      const tailFrom = cursor === undefined ? (events[0]?.id ?? (await auditTrail.lastId()).toString()) : undefined;
      deps.show(ctx, 'admin-audit', 'audit', { title: 'Audit trail', filters, events, older, tailFrom, scripts: ['admin-tail.js'] });
    },

    /** JSON for the live tail: the matching events after `after`, oldest first. */
    async tail(ctx: ConsoleContext) {
      const after = field(queryOf(ctx), 'after');
      const { parsed } = filterOf(queryOf(ctx));
      if (!/^\d{1,19}$/.test(after) || BigInt(after) >= 2n ** 63n || !parsed.success) {
        ctx.status = 400;
        ctx.body = { error: 'invalid_request', error_description: parsed.success ? 'after: an event id' : toValidationError(parsed.error).message };
        return;
      }
      const { type, accountId, clientId, since, until } = parsed.data;
      const events = await auditTrail.listAfter({ types: type, accountId, clientId, since, until }, BigInt(after), TAIL_MAX);
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { events: events.map(eventRow) };
    },
  };
}

export type AuditPages = ReturnType<typeof createAuditPages>;
