import { createHash } from 'node:crypto';

import type { ParameterizedContext } from 'koa';

import { AppError, PreconditionFailedError } from '../errors.ts';

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
 * validators never match (strong comparison, section 8.8.3.2). Answers `version` when the
 * header named it, `any` for `*`: a named version must also be the one the write replaces
 * (the stores' `ifUpdatedAt`), or two requests holding the same ETag would both pass this
 * check and the second would overwrite the first.
 */
export function requireIfMatch(ctx: ParameterizedContext, current: string): 'version' | 'any' {
  const header = ctx.get('If-Match').trim();
  if (header === '') {
    throw new PreconditionError('precondition_required', 428, 'this change needs an If-Match header with the ETag of the resource as last read (GET it first)');
  }
  if (header === '*') return 'any';
  const tags = header.split(',').map((tag) => tag.trim());
  if (!tags.includes(current)) {
    throw new PreconditionFailedError();
  }
  return 'version';
}
