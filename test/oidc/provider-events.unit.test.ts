import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';

import Provider, { type KoaContextWithOIDC } from 'oidc-provider';

import { captureAudit } from '../helpers/capture-audit.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { observeProvider } from '../../src/oidc/events/index.ts';

// The engine's events, emitted on a real engine with hand-made request contexts: what each
// listener records, and that a listener's failure never reaches the request. (The flows in
// audit-trail.test.ts see the same events from real requests.)

// One engine for the file (it warns about its development defaults each time one is made);
// each test starts from no listeners.
const provider = new Provider('http://localhost:3000', {});

function observed() {
  let text = '';
  const logger = createLogger({
    level: 'info',
    destination: new Writable({
      write(chunk: Buffer, _encoding, callback) {
        text += chunk.toString();
        callback();
      },
    }),
  });
  const audit = captureAudit();
  const events = audit.events;
  provider.removeAllListeners();
  observeProvider(provider, { audit, logger });
  const lines = () => text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
  return { provider, events, lines };
}

function context(oidc: object): KoaContextWithOIDC {
  const headers: Record<string, string> = { 'user-agent': 'test-agent' };
  return { ip: '192.0.2.1', get: (name: string) => headers[name.toLowerCase()] ?? '', state: { requestId: 'request-1' }, oidc } as unknown as KoaContextWithOIDC;
}

describe('the engine event listeners', () => {
  test('a completed logout records one logout event: the whole session, or the one client', () => {
    const { provider, events } = observed();
    provider.emit('end_session.success', context({ params: { logout: 'yes' }, session: { accountId: 'account-1' }, client: { clientId: 'client-1' } }));
    provider.emit('end_session.success', context({ params: {}, session: { accountId: 'account-1' }, client: { clientId: 'client-1' } }));
    assert.deepEqual(events, [
      { type: 'logout', actor: 'account-1', accountId: 'account-1', clientId: 'client-1', ip: '192.0.2.1', userAgent: 'test-agent', requestId: 'request-1', data: { scope: 'session' } },
      { type: 'logout', actor: 'account-1', accountId: 'account-1', clientId: 'client-1', ip: '192.0.2.1', userAgent: 'test-agent', requestId: 'request-1', data: { scope: 'client' } },
    ]);
  });

  test('server_error is logged once at level error, with the request id and the route', () => {
    const { provider, lines } = observed();
    provider.emit('server_error', context({ route: 'token' }), new Error('the engine failed'));
    const logged = lines().filter((line) => line.msg === 'provider error');
    assert.equal(logged.length, 1);
    assert.equal(logged[0]?.level, 50);
    assert.equal(logged[0]?.requestId, 'request-1');
    assert.equal(logged[0]?.route, 'token');
    assert.equal((logged[0]?.err as { message?: string } | undefined)?.message, 'the engine failed');
  });

  test('a listener that fails is logged as a warning and never throws into the request', () => {
    const { provider, events, lines } = observed();
    // No oidc context at all: each listener fails reading it.
    for (const event of ['grant.success', 'grant.revoked', 'end_session.success', 'server_error']) {
      assert.doesNotThrow(() => provider.emit(event, {}, 'grant-1'));
    }
    assert.deepEqual(events, []);
    const failures = lines().filter((line) => line.msg === 'observing an engine event failed');
    assert.deepEqual(
      failures.map((line) => [line.level, line.event]),
      [
        [40, 'grant.success'],
        [40, 'grant.revoked'],
        [40, 'end_session.success'],
        [40, 'server_error'],
      ],
    );
  });
});
