import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { DatabaseUnavailableError, isDatabaseUnavailable, translatePrismaError, databaseFailureReason } from '../../src/db/index.ts';
import { Prisma } from '../../src/db/generated/client.ts';
import { withTemporarilyUnavailable } from '../../src/oidc/answer-database-outage.ts';

// What counts as the database being away (a 503 the client may retry) and what does not (a
// bug or a refused query, still a logged 500). The shapes are those observed through a TCP
// proxy cut between the server and Postgres (test/db/database-outage.flow.test.ts).

const known = (code: string, meta?: Record<string, unknown>) =>
  new Prisma.PrismaClientKnownRequestError('\nInvalid `prisma.account.findFirst()` invocation in\n/app/x.ts:1:1\n\nCan\'t reach database server', { code, clientVersion: '7.10.0', ...(meta && { meta }) });

describe('the database is away', () => {
  test('pg losing or never making its connection', () => {
    assert.ok(isDatabaseUnavailable(new Error('Connection terminated unexpectedly')));
    assert.ok(isDatabaseUnavailable(new Error('Connection terminated due to connection timeout')));
    assert.ok(isDatabaseUnavailable(new Error('timeout exceeded when trying to connect')));
    assert.ok(isDatabaseUnavailable(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })));
    assert.ok(isDatabaseUnavailable(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })));
    assert.ok(isDatabaseUnavailable(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' })));
  });

  test("Prisma's connection codes and its driver adapter's kinds, however deep the cause", () => {
    for (const code of ['P1001', 'P1002', 'P1008', 'P1017', 'P2024', 'P2037']) assert.ok(isDatabaseUnavailable(known(code)), code);
    assert.ok(isDatabaseUnavailable(known('P2010', { driverAdapterError: { name: 'DriverAdapterError', cause: { kind: 'DatabaseNotReachable' } } })));
    assert.ok(isDatabaseUnavailable(new Error('wrapped', { cause: new Error('again', { cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }) }) })));
    assert.ok(isDatabaseUnavailable(new DatabaseUnavailableError(new Error('down'))));
  });

  test('a refused query, a constraint or a bug is not an outage', () => {
    assert.equal(isDatabaseUnavailable(known('P2002')), false);
    assert.equal(isDatabaseUnavailable(known('P2025')), false);
    assert.equal(isDatabaseUnavailable(Object.assign(new Error('syntax error'), { code: '42601' })), false);
    assert.equal(isDatabaseUnavailable(new TypeError("Cannot read properties of undefined (reading 'id')")), false);
    assert.equal(isDatabaseUnavailable(undefined), false);
    assert.equal(isDatabaseUnavailable('Connection terminated'), false);
  });

  test("a client that drops its request body is the client's doing, not an outage (anyone could fake one)", () => {
    // raw-body's error for a body cut short, as co-body and koa's parsers pass it on.
    const aborted = Object.assign(new Error('request aborted'), { code: 'ECONNABORTED', status: 400, statusCode: 400, expose: true, type: 'request.aborted' });
    assert.equal(isDatabaseUnavailable(aborted), false);
    assert.equal(isDatabaseUnavailable(Object.assign(new Error('aborted'), { code: 'ECONNRESET', type: 'request.aborted' })), false);
    assert.equal(isDatabaseUnavailable(Object.assign(new Error('bad request'), { status: 400, cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }) })), false);
    // The same codes from the database's connection still are.
    assert.equal(isDatabaseUnavailable(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })), true);
  });

  test('translatePrismaError makes an outage a DatabaseUnavailableError and leaves the rest', () => {
    assert.ok(translatePrismaError(new Error('Connection terminated unexpectedly')) instanceof DatabaseUnavailableError);
    const bug = new TypeError('bug');
    assert.equal(translatePrismaError(bug), bug);
  });

  test('the reason logged is one line: what happened, not where Prisma was called', () => {
    assert.equal(databaseFailureReason(known('P1001')), "P1001: Can't reach database server");
    assert.equal(databaseFailureReason(new Error('Connection terminated unexpectedly')), 'Connection terminated unexpectedly');
  });
});

describe("an authorization error at the client's redirect URI", () => {
  test('server_error becomes temporarily_unavailable, in the query or the fragment, the rest kept', () => {
    const query = new URL(withTemporarilyUnavailable('https://app.example/cb?error=server_error&error_description=oops&state=s1&iss=x'));
    assert.equal(query.searchParams.get('error'), 'temporarily_unavailable');
    assert.equal(query.searchParams.get('state'), 's1');
    assert.equal(query.searchParams.get('iss'), 'x');
    assert.match(query.searchParams.get('error_description') ?? '', /try again/);
    const fragment = new URL(withTemporarilyUnavailable('https://app.example/cb#error=server_error&state=s2'));
    assert.equal(new URLSearchParams(fragment.hash.slice(1)).get('error'), 'temporarily_unavailable');
    assert.equal(new URLSearchParams(fragment.hash.slice(1)).get('state'), 's2');
  });
});
