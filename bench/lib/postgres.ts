import { randomBytes } from 'node:crypto';

import pg from 'pg';

// The bench's own connection to the Postgres server (to its maintenance database, never to
// the database under test, so that it is not one of the backends being measured).

export interface BenchPostgres {
  readonly version: string;
  /** A fresh, empty database; returns its URL. */
  createDatabase(): Promise<{ name: string; url: string }>;
  dropDatabase(name: string): Promise<void>;
  /** Process ids of the client backends connected to a database. */
  backends(database: string): Promise<number[]>;
  /** Transactions committed plus rolled back in a database, as the statistics show them now. */
  transactions(database: string): Promise<number>;
  /**
   * Copies one live row of `table` until it holds `count` more rows (new ids, the same
   * payload otherwise). Returns how many were added.
   */
  cloneRows(database: string, table: string, count: number): Promise<number>;
  close(): Promise<void>;
}

export async function connectPostgres(url: string): Promise<BenchPostgres> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  // Each reading sees the statistics as they are now, not a snapshot cached earlier.
  await admin.query('SET stats_fetch_consistency = none');
  const version = ((await admin.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version ?? 'unknown').split(' ')[0]!;
  const databaseUrl = (name: string) => Object.assign(new URL(url), { pathname: `/${name}` }).toString();

  return {
    version,
    async createDatabase() {
      const name = `portcullis_bench_${randomBytes(4).toString('hex')}`;
      await admin.query(`CREATE DATABASE ${name}`);
      return { name, url: databaseUrl(name) };
    },
    async dropDatabase(name) {
      await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
    },
    async backends(database) {
      const result = await admin.query<{ pid: number }>(
        "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'",
        [database],
      );
      return result.rows.map((row) => row.pid);
    },
    async transactions(database) {
      const result = await admin.query<{ n: string }>(
        'SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = $1',
        [database],
      );
      return Number(result.rows[0]?.n ?? 0);
    },
    async cloneRows(database, table, count) {
      const client = new pg.Client({ connectionString: databaseUrl(database) });
      await client.connect();
      try {
        const t = pg.escapeIdentifier(table);
        // Every column copied as it is but the id (and the payload's jti, when it has one).
        const result = await client.query(
          `INSERT INTO ${t}
           SELECT (jsonb_populate_record(NULL::${t}, to_jsonb(source) || jsonb_build_object(
             'id', 'bench-' || n,
             'payload', CASE WHEN jsonb_typeof(to_jsonb(source) -> 'payload') = 'object'
                             THEN (to_jsonb(source) -> 'payload') || jsonb_build_object('jti', 'bench-' || n)
                             ELSE to_jsonb(source) -> 'payload' END))).*
           FROM (SELECT * FROM ${t} LIMIT 1) AS source, generate_series(1, $1::int) AS n`,
          [count],
        );
        return result.rowCount ?? 0;
      } finally {
        await client.end();
      }
    },
    close: () => admin.end(),
  };
}
