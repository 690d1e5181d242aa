// Measures what one audit event costs on Postgres (docs/audit-capacity.md): writes N
// `token.issued` events through the real audit writer (the same batched INSERT a server
// uses) into a fresh database on the local Postgres, half as a service's client-credentials
// token and half as an app's refresh, with the fields a real request fills, then reads the
// table's and its indexes' sizes. Not a load bench: about 20 s, one process.
//   node --import tsx bench/audit-size.ts [N]     (default 200,000; TEST_POSTGRES_URL to change the server)
import { randomBytes, randomUUID } from 'node:crypto';

import pg from 'pg';

import { createAuditWriter } from '../src/audit/index.ts';
import { createDatabase, migrate } from '../src/db/index.ts';
import { createLogger } from '../src/observability/logger.ts';

const N = Number(process.argv[2] ?? 200_000);
const serverUrl = process.env.TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const name = `portcullis_audit_size_${randomBytes(4).toString('hex')}`;
const admin = new pg.Client({ connectionString: serverUrl });
await admin.connect();
await admin.query(`CREATE DATABASE ${name}`);
const url = new URL(serverUrl);
url.pathname = `/${name}`;
const database = createDatabase({ url: url.toString(), poolMax: 4 });
try {
  await migrate(database.pool);
  const writer = createAuditWriter({ sql: database.pool, logger: createLogger({ level: 'warn' }), maxBuffered: 20_000 });
  const accounts = Array.from({ length: 1_000 }, () => randomUUID());
  for (let i = 0; i < N; i++) {
    const refresh = i % 2 === 1;
    writer.record(
      refresh
        ? {
            type: 'token.issued',
            actor: 'web-app-0123',
            clientId: 'web-app-0123',
            accountId: accounts[i % accounts.length],
            ip: `198.51.100.${i % 250}`,
            userAgent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
            requestId: randomUUID(),
            data: { grantType: 'refresh_token', scope: 'openid offline_access', refreshTokenIssued: true, rotated: true, grantId: randomBytes(32).toString('base64url') },
          }
        : {
            type: 'token.issued',
            actor: 'batch-service-01',
            clientId: 'batch-service-01',
            ip: '10.0.3.17',
            userAgent: 'node',
            requestId: randomUUID(),
            data: { grantType: 'client_credentials', scope: 'read', resource: 'https://api.example.com', refreshTokenIssued: false },
          },
    );
    if (writer.buffered >= 10_000) await writer.flush();
  }
  await writer.close();
  await database.pool.query('VACUUM ANALYZE audit_events');
  const { rows } = await database.pool.query<{ rows: string; total: string; heap: string; indexes: string }>(
    `SELECT count(*) AS rows, pg_total_relation_size('audit_events') AS total, pg_relation_size('audit_events') AS heap, pg_indexes_size('audit_events') AS indexes FROM audit_events`,
  );
  const row = rows[0]!;
  const per = (bytes: string) => Math.round(Number(bytes) / Number(row.rows));
  console.log(
    JSON.stringify({ rows: Number(row.rows), totalBytes: Number(row.total), perRow: { total: per(row.total), heap: per(row.heap), indexes: per(row.indexes) } }, null, 2),
  );
} finally {
  await database.close();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
}
