import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';

import { createErrorReporter, noErrorReporter } from '../../src/observability/error-reporter.ts';
import { createLogger } from '../../src/observability/logger.ts';

// Error reporting through the official Sentry SDK, against a local stand-in for Sentry's
// ingest endpoint: what arrives is the error, scrubbed like the logs. Without a DSN the
// SDK is never loaded.

const envelopes: string[] = [];
const ingest = createServer((req: IncomingMessage, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    envelopes.push((req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body).toString());
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
});
let dsn: string;

before(async () => {
  await new Promise<void>((resolve) => ingest.listen(0, '127.0.0.1', resolve));
  dsn = `http://publickey@127.0.0.1:${(ingest.address() as AddressInfo).port}/42`;
});

after(() => {
  ingest.close();
});

describe('error reporting', () => {
  test('without SENTRY_DSN nothing is loaded and nothing is reported', async () => {
    let loaded = false;
    const reporter = await createErrorReporter({
      dsn: undefined,
      environment: 'test',
      load: () => {
        loaded = true;
        return import('@sentry/node');
      },
    });
    assert.equal(reporter, noErrorReporter);
    assert.equal(loaded, false);
    assert.equal(reporter.enabled, false);
  });

  test('with SENTRY_DSN an error logged at level error reaches Sentry with its request id, scrubbed like the logs', async () => {
    const reporter = await createErrorReporter({ dsn, environment: 'test' });
    assert.equal(reporter.enabled, true);
    const logger = createLogger({
      level: 'info',
      reportError: reporter.report,
      destination: new Writable({ write: (_chunk, _encoding, callback) => callback() }),
    });
    const error = new Error('callback failed: https://rp.example/cb?code=SECRET-CODE-123&state=s with Bearer SECRET.TOKEN.456');
    logger.error({ err: error, requestId: 'request-id-0001', route: 'token', password: 'SECRET-PASSWORD-789' }, 'request failed');
    logger.warn({ err: new Error('a warning is not reported') }, 'just a warning');
    await reporter.flush(5_000);

    const received = envelopes.join('\n');
    assert.match(received, /callback failed: https:\/\/rp\.example\/cb\?code=\[redacted\]&state=s with Bearer \[redacted\]/);
    assert.match(received, /"request_id":"request-id-0001"/);
    assert.match(received, /"route":"token"/);
    assert.match(received, /"environment":"test"/);
    assert.ok(!received.includes('a warning is not reported'));
    for (const secret of ['SECRET-CODE-123', 'SECRET.TOKEN.456', 'SECRET-PASSWORD-789']) assert.ok(!received.includes(secret), secret);
  });
});
