import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';


import { scrubSentryEvent } from '../../src/observability/error-reporter.ts';
import { createLogger, type ErrorSink } from '../../src/observability/logger.ts';
import { scrubText, scrubValue, stripQuery } from '../../src/observability/redact.ts';

// The central redaction rules, on their own: what a log line, an audit event or an error
// report may carry.

function capture(reportError?: ErrorSink) {
  let text = '';
  const logger = createLogger({
    level: 'trace',
    destination: new Writable({
      write(chunk: Buffer, _encoding, callback) {
        text += chunk.toString();
        callback();
      },
    }),
    ...(reportError && { reportError }),
  });
  return { logger, lines: () => text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>) };
}

describe('the logger', () => {
  test('redacts Authorization, Cookie and Set-Cookie headers and the query string of a logged request and response', async () => {
    const { logger, lines } = capture();
    const server = createServer((req, res) => {
      res.setHeader('Set-Cookie', '_session=s2; HttpOnly');
      logger.info({ req, res }, 'seen');
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      await fetch(`http://127.0.0.1:${port}/cb?code=abc&state=1`, { headers: { authorization: 'Bearer abc.def', cookie: '_session=s1' } });
    } finally {
      server.close();
    }
    const line = lines()[0] as { req: { url: string; headers: Record<string, string> }; res: { headers: Record<string, string> } };
    assert.equal(line.req.url, '/cb');
    assert.equal(line.req.headers.authorization, '[redacted]');
    assert.equal(line.req.headers.cookie, '[redacted]');
    assert.equal(line.res.headers['set-cookie'], '[redacted]');
    assert.ok(!JSON.stringify(line).includes('abc'));
  });

  test('redacts sensitive headers in any plain object, whatever the name case', () => {
    const { logger, lines } = capture();
    logger.info({ upstream: { headers: { Authorization: 'Basic Zm9vOmJhcg==', 'Set-Cookie': ['a=b'], accept: 'json' } } });
    assert.deepEqual(lines()[0]?.upstream, { headers: { Authorization: '[redacted]', 'Set-Cookie': '[redacted]', accept: 'json' } });
  });

  test('redacts passwords, client secrets, tokens, codes and the master secret at the top and nested', () => {
    const { logger, lines } = capture();
    logger.info({
      password: 'p1',
      masterSecret: 'm1',
      body: { password: 'p2', client_secret: 'c1', code_verifier: 'v1' },
      params: { code: 'code-1', refresh_token: 'r1', nested: { access_token: 'a1', id_token: 'i1', token: 't1', jti: 'j1' } },
      client: { clientSecret: 'c2', secretCiphertext: 'sealed' },
    });
    const serialized = JSON.stringify(lines()[0]);
    for (const value of ['p1', 'm1', 'p2', 'c1', 'v1', 'code-1', 'r1', 'a1', 'i1', 't1', 'j1', 'c2', 'sealed']) {
      assert.ok(!serialized.includes(`"${value}"`), `${value} is redacted`);
    }
  });

  test('keeps a top-level `code`: by convention it is our error code', () => {
    const { logger, lines } = capture();
    logger.info({ code: 'invalid_input', status: 400 }, 'request rejected');
    assert.equal(lines()[0]?.code, 'invalid_input');
  });

  test('scrubs codes, tokens and credentials out of logged error messages and stacks', () => {
    const { logger, lines } = capture();
    const error = new Error('fetch failed for https://rp.example/cb?code=SECRET-CODE&state=ok with Bearer SECRET.TOKEN');
    logger.warn({ err: error }, 'something failed');
    const err = lines()[0]?.err as { message: string; stack: string };
    assert.equal(err.message, 'fetch failed for https://rp.example/cb?code=[redacted]&state=ok with Bearer [redacted]');
    assert.ok(!err.stack.includes('SECRET'));
  });

  test('hands errors logged at level error to the error sink, with the request id and route, and nothing else', () => {
    const reported: { error: Error; context: Record<string, unknown> }[] = [];
    const { logger, lines } = capture((error, context) => reported.push({ error, context }));
    const error = new Error('boom');
    logger.error({ err: error, requestId: 'req-12345678', route: 'token', password: 'p' }, 'request failed');
    logger.warn({ err: new Error('only a warning') }, 'not reported');
    logger.error('an error message without an error object');
    assert.equal(reported.length, 1);
    assert.equal(reported[0]?.error, error);
    assert.deepEqual(reported[0]?.context, { message: 'request failed', requestId: 'req-12345678', route: 'token' });
    assert.equal(lines().length, 3, 'every line is still logged');
  });

  test('still logs when the error sink throws', () => {
    const { logger, lines } = capture(() => {
      throw new Error('sink down');
    });
    logger.error({ err: new Error('boom') }, 'request failed');
    assert.equal(lines()[0]?.msg, 'request failed');
  });
});

describe('the redaction helpers', () => {
  test('stripQuery drops the query string and fragment of a URL or path', () => {
    assert.equal(stripQuery('/cb?code=1&state=2'), '/cb');
    assert.equal(stripQuery('https://a.example/x#access_token=1'), 'https://a.example/x');
    assert.equal(stripQuery('/plain'), '/plain');
  });

  test('scrubText hides the values of sensitive parameters and credentials only', () => {
    assert.equal(
      scrubText('GET /token?grant_type=refresh_token&refresh_token=abc&client_secret=xyz&scope=openid'),
      'GET /token?grant_type=refresh_token&refresh_token=[redacted]&client_secret=[redacted]&scope=openid',
    );
    assert.equal(scrubText('Authorization: Basic dXNlcjpwYXNz'), 'Authorization: Basic [redacted]');
    assert.equal(scrubText('nothing secret here'), 'nothing secret here');
  });

  test('scrubValue copies a value with sensitive keys redacted at any depth, bounded in depth and size', () => {
    const circular: Record<string, unknown> = { name: 'loop' };
    circular.self = circular;
    const scrubbed = scrubValue({ a: { b: { password: 'x', list: [{ token: 'y' }] } }, loop: circular, long: 'z'.repeat(5000) }) as Record<string, unknown>;
    assert.deepEqual((scrubbed.a as { b: unknown }).b, { password: '[redacted]', list: [{ token: '[redacted]' }] });
    assert.ok(JSON.stringify(scrubbed.loop).includes('[truncated]'));
    assert.ok((scrubbed.long as string).length <= 2001);
  });
});

describe('secrets written the ways messages and inspected objects write them', () => {
  test('an Authorization scheme in any case', () => {
    assert.equal(scrubText('Authorization: bearer abc.def'), 'Authorization: bearer [redacted]');
    assert.equal(scrubText('BASIC dXNlcjpwdw== and dpop ey.J'), 'BASIC [redacted] and dpop [redacted]');
  });
  test('single-quoted values, with the name quoted or not (util.inspect)', () => {
    assert.equal(scrubText("{ client_secret: 'x1', scope: 'read' }"), "{ client_secret: '[redacted]', scope: 'read' }");
    assert.equal(scrubText("{'password': 'hunter2'}"), "{'password': '[redacted]'}");
    assert.equal(scrubText("{ refresh_token: 'it\\'s' }"), "{ refresh_token: '[redacted]' }");
  });
  test('text with none of what the patterns need comes back as it was', () => {
    for (const text of ['https://api.example/orders', 'client-1 read write', "it's fine", 'a: b']) assert.equal(scrubText(text), text);
  });
});

describe('the Sentry event scrubber', () => {
  test('keeps the method and path of a request and drops headers, cookies, query and body', () => {
    const event = scrubSentryEvent({
      type: undefined,
      request: {
        method: 'POST',
        url: 'https://id.example/token?code=abc',
        headers: { authorization: 'Basic eHg6eXk=' },
        cookies: { _session: 's' },
        query_string: 'code=abc',
        data: 'client_secret=shh',
      },
      message: 'failed at /cb?code=abc',
      exception: { values: [{ type: 'Error', value: 'refresh_token=rt1 was refused' }] },
      extra: { params: { refresh_token: 'rt2' }, ok: 1 },
      user: { id: 'account-1', email: 'a@example.com', ip_address: '192.0.2.1' },
      breadcrumbs: [{ message: 'GET /cb?code=abc', data: { password: 'p' } }],
    });
    assert.deepEqual(event.request, { method: 'POST', url: 'https://id.example/token' });
    assert.equal(event.message, 'failed at /cb?code=[redacted]');
    assert.equal(event.exception?.values?.[0]?.value, 'refresh_token=[redacted] was refused');
    assert.deepEqual(event.extra, { params: { refresh_token: '[redacted]' }, ok: 1 });
    assert.deepEqual(event.user, { id: 'account-1' });
    assert.deepEqual(event.breadcrumbs, [{ message: 'GET /cb?code=[redacted]', data: { password: '[redacted]' } }]);
  });
});
