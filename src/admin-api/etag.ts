import { createHash } from 'node:crypto';

import type { ParameterizedContext } from 'koa';

import { AppError } from '../errors.ts';

// Optimistic concurrency for the admin API (RFC 9110 section 13.1.1): every GET carries a
// strong ETag of the representation; a change (PUT/PATCH) must name the one it was made
// from in If-Match. Without it, 428: two operators must never silently overwrite each other;
// with a stale one, 412 and nothing is written.

/** A strong validator of what the API answers for a resource: changes with any field of it. */
export function etagOf(view: unknown): string {
  return `"${createHash('sha256').update(JSON.stringify(view)).digest('base64url').slice(0, 27)}"`;
}

class PreconditionError extends AppError {}

/**
 * Refuses the change unless If-Match names the current representation (or is `*`). Weak
 * validators never match (strong comparison, section 8.8.3.2).
 */
export function requireIfMatch(ctx: ParameterizedContext, current: string): void {
  const header = ctx.get('If-Match').trim();
  if (header === '') {
    throw new PreconditionError('precondition_required', 428, 'this change needs an If-Match header with the ETag of the resource as last read (GET it first)');
  }
  if (header === '*') return;
  const tags = header.split(',').map((tag) => tag.trim());
  if (!tags.includes(current)) {
    throw new PreconditionError('precondition_failed', 412, 'the resource changed since it was read (If-Match does not match its ETag): GET it again and reapply the change');
  }
}
