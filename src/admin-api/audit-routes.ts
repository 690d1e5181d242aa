import type Router from '@koa/router';

import type { AccessTokenState } from '../account-api/index.ts';
import { toValidationError } from '../errors.ts';
import type { AdminApiDeps, Guards } from './admin-context.ts';
import { auditQuerySchema } from './views.ts';

// /audit-events: the audit trail, read (admin:read), filtered as `portcullis events`
// filters it, newest first, a page at a time. Reading it is not itself audited: it changes
// nothing, and a row per read would let any reader grow the table; the access log has it.

export function addAuditRoutes(router: Router<AccessTokenState>, guards: Guards, deps: Pick<AdminApiDeps, 'auditTrail'>): void {
  router.get('/audit-events', guards.read, async (ctx) => {
    const parsed = auditQuerySchema.safeParse(ctx.query);
    if (!parsed.success) throw toValidationError(parsed.error);
    const { type, accountId, clientId, since, until, cursor, limit } = parsed.data;
    // One more than asked: whether there is an older page, without a count.
    const found = await deps.auditTrail.page({ types: type, accountId, clientId, since, until }, { before: cursor, limit: limit + 1 });
    const events = found.slice(0, limit);
    ctx.body = { events, nextCursor: found.length > limit ? (events.at(-1)?.id ?? null) : null };
  });
}
