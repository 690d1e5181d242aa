import type { AuditSink } from '../../audit/index.ts';
import type { Logger, Metrics } from '../../observability/index.ts';
import type { DatabaseOutageAnswer } from '../answer-database-outage.ts';

/** What the engine's listeners report to. */
export interface EventDeps {
  readonly audit: AuditSink;
  readonly metrics?: Metrics | undefined;
  readonly logger: Logger;
  /** Takes the server errors that are the database being away (answer-database-outage.ts). */
  readonly databaseOutage?: Pick<DatabaseOutageAnswer, 'claim'> | undefined;
}

export type Guard = <A extends unknown[]>(event: string, listener: (...args: A) => void) => (...args: A) => void;

/**
 * Wraps a listener so that its failure is logged, never thrown: the engine emits its
 * events synchronously inside the request, and a bug in observing must never fail it.
 */
export function guardListeners(logger: Logger): Guard {
  return (event, listener) =>
    (...args) => {
      try {
        listener(...args);
      } catch (error) {
        logger.warn({ err: error, event }, 'observing an engine event failed');
      }
    };
}
