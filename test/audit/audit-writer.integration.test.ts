import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';

import { createAuditWriter } from '../../src/audit/index.ts';
import { createDatabase } from '../../src/db/index.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics, type Metrics } from '../../src/observability/metrics.ts';
import { createMigratedDatabase } from '../helpers/test-database.ts';
import { testEventType } from '../helpers/test-event-type.ts';

// The buffered audit writer against a real database: what it stores, how it batches, and
// that recording never throws or blocks, whatever the database does.

let database: Awaited<ReturnType<typeof createMigratedDatabase>>;
let logText = '';
const logger = createLogger({
  level: 'info',
  destination: new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logText += chunk.toString();
      callback();
    },
  }),
});

async function counter(metrics: Metrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  const value = metric?.values.find((v) => Object.entries(labels).every(([key, label]) => v.labels[key] === label));
  return Number(value?.value ?? 0);
}

before(async () => {
  database = await createMigratedDatabase();
});

after(async () => {
  await database?.destroy();
});

describe('the audit writer', () => {
  test('stores every field of an event, stamped with the time it was recorded', async () => {
    const writer = createAuditWriter({ sql: database.pool, logger });
    const before = Date.now();
    writer.record({
      type: testEventType('test.stored'),
      actor: 'cli',
      accountId: 'account-1',
      clientId: 'client-1',
      ip: '192.0.2.7',
      userAgent: 'curl/8',
      requestId: 'request-0001',
      data: { scope: 'openid', nested: { n: 1 } },
    });
    await writer.close();
    const [row] = await database.prisma.auditEvent.findMany({ where: { type: 'test.stored' } });
    assert.ok(row);
    assert.deepEqual(
      { ...row, id: undefined, time: undefined },
      {
        id: undefined,
        time: undefined,
        type: 'test.stored',
        actor: 'cli',
        accountId: 'account-1',
        clientId: 'client-1',
        ip: '192.0.2.7',
        userAgent: 'curl/8',
        requestId: 'request-0001',
        data: { scope: 'openid', nested: { n: 1 } },
      },
    );
    assert.ok(row.time.getTime() >= before - 5 && row.time.getTime() <= Date.now());
  });

  test('scrubs secrets a caller put in the data by mistake, and characters Postgres refuses', async () => {
    const writer = createAuditWriter({ sql: database.pool, logger });
    writer.record({
      type: testEventType('test.scrubbed'),
      userAgent: 'agent\u0000with NUL',
      data: { password: 'hunter2', nested: { client_secret: 's3cret', refresh_token: 'rt' }, note: 'bad \ud800 surrogate', url: '/cb?code=abc&state=1' },
    });
    await writer.close();
    const row = await database.prisma.auditEvent.findFirstOrThrow({ where: { type: 'test.scrubbed' } });
    assert.equal(row.userAgent, 'agentwith NUL');
    assert.deepEqual(row.data, {
      password: '[redacted]',
      nested: { client_secret: '[redacted]', refresh_token: '[redacted]' },
      note: 'bad \ufffd surrogate',
      url: '/cb?code=[redacted]&state=1',
    });
  });

  test('writes as soon as a batch is full, and otherwise on the timer or a flush', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const writer = createAuditWriter({ sql: database.pool, logger, metrics, batchSize: 10, flushIntervalMs: 60_000 });
    for (let n = 0; n < 5; n++) writer.record({ type: testEventType('test.batched'), data: { n } });
    await sleep(100);
    assert.equal(await database.prisma.auditEvent.count({ where: { type: 'test.batched' } }), 0, 'a part batch waits');
    assert.equal(writer.buffered, 5);
    for (let n = 5; n < 25; n++) writer.record({ type: testEventType('test.batched'), data: { n } });
    await sleep(200);
    assert.equal(await database.prisma.auditEvent.count({ where: { type: 'test.batched' } }), 25, 'a full batch is written at once');
    writer.record({ type: testEventType('test.batched'), data: { n: 25 } });
    await writer.flush();
    assert.equal(await database.prisma.auditEvent.count({ where: { type: 'test.batched' } }), 26);
    assert.equal(await counter(metrics, 'portcullis_audit_events_written_total'), 26);
    assert.equal(await counter(metrics, 'portcullis_audit_events_buffered'), 0);
    await writer.close();
  });

  test('still writes after sitting idle past its flush interval', async () => {
    const writer = createAuditWriter({ sql: database.pool, logger, flushIntervalMs: 20 });
    await sleep(100);
    writer.record({ type: testEventType('test.after-idle') });
    await sleep(100);
    assert.equal(await database.prisma.auditEvent.count({ where: { type: 'test.after-idle' } }), 1);
    await writer.close();
  });

  test('keeps a bounded buffer: events beyond it are dropped and counted, never queued without end', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const writer = createAuditWriter({ sql: database.pool, logger, metrics, maxBuffered: 3, batchSize: 100, flushIntervalMs: 60_000 });
    for (let n = 0; n < 5; n++) writer.record({ type: testEventType('test.bounded'), data: { n } });
    assert.equal(writer.buffered, 3);
    assert.equal(await counter(metrics, 'portcullis_audit_events_dropped_total', { reason: 'buffer_full' }), 2);
    await writer.close();
    const kept = await database.prisma.auditEvent.findMany({ where: { type: 'test.bounded' }, orderBy: { id: 'asc' } });
    assert.deepEqual(kept.map((row) => (row.data as { n: number }).n), [0, 1, 2]);
    assert.match(logText, /"dropped":\d+,"reason":"buffer_full","msg":"audit events dropped"/);
  });

  test('drops and counts events recorded after close', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const writer = createAuditWriter({ sql: database.pool, logger, metrics });
    await writer.close();
    writer.record({ type: testEventType('test.too-late') });
    assert.equal(await counter(metrics, 'portcullis_audit_events_dropped_total', { reason: 'closed' }), 1);
    assert.equal(await database.prisma.auditEvent.count({ where: { type: 'test.too-late' } }), 0);
  });

  test('keeps events buffered while the database is unreachable; recording never throws', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    // Port 9 (discard) on the loopback: nothing listens, connections are refused at once.
    const unreachable = createDatabase({ url: 'postgresql://postgres@127.0.0.1:9/nothing', poolMax: 1 });
    const writer = createAuditWriter({ sql: unreachable.pool, logger, metrics, flushIntervalMs: 60_000 });
    const started = performance.now();
    for (let n = 0; n < 3; n++) writer.record({ type: testEventType('test.unreachable'), data: { n } });
    assert.ok(performance.now() - started < 50, 'recording does not wait for the database');
    await writer.flush();
    assert.equal(writer.buffered, 3, 'still buffered for the next attempt');
    assert.match(logText, /the audit table is unreachable; events stay buffered/);
    await writer.close();
    assert.equal(await counter(metrics, 'portcullis_audit_events_dropped_total', { reason: 'write_failed' }), 3);
    await unreachable.close();
  });

  test('drops a batch the database refuses while it answers, so one bad batch cannot block the trail', async () => {
    const scratch = await createMigratedDatabase();
    try {
      const metrics = createMetrics({ defaultMetrics: false });
      await scratch.pool.query('DROP TABLE audit_events');
      const writer = createAuditWriter({ sql: scratch.pool, logger, metrics, flushIntervalMs: 60_000 });
      writer.record({ type: testEventType('test.refused') });
      await writer.flush();
      assert.equal(writer.buffered, 0);
      assert.equal(await counter(metrics, 'portcullis_audit_events_dropped_total', { reason: 'write_failed' }), 1);
      assert.match(logText, /audit events could not be written and were dropped/);
      await writer.close();
    } finally {
      await scratch.destroy();
    }
  });
});
