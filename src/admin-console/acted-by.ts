import { requestFacts, type ActedBy } from '../audit/index.ts';
import { consoleSession, type ConsoleContext } from './console-session.ts';

/** Every change made at the console is audited as the admin API's are: the person as the actor, with the request's address and id. */
export function actedBy(ctx: ConsoleContext): ActedBy {
  return { actor: consoleSession(ctx).account.id, ...requestFacts(ctx) };
}

/**
 * The version an edit form was shown with (its record's updatedAt, in a hidden field): the
 * change is written only onto that version, as the admin API's If-Match, so two operators
 * never overwrite each other silently. A form without one is treated as stale.
 */
export function shownVersion(value: string): Date {
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? new Date(0) : date;
}
