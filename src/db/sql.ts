import type pg from 'pg';

/**
 * A parameterised query on the process's pool. The engine's token tables are read and
 * written through it directly rather than through Prisma: these statements run on every
 * token request, and Prisma's per-query work (its query compiler, an upsert as a
 * transaction of a read and a write) cost several times the statement itself
 * (bench/RESULTS.md, issue 10). Everything else keeps Prisma.
 */
export type Sql = Pick<pg.Pool, 'query'>;
