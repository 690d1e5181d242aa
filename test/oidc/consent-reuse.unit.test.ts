import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import type { KoaContextWithOIDC } from 'oidc-provider';

import { consentOf, createLoadExistingGrant } from '../../src/oidc/consent-reuse.ts';
import { createMemoryTokenStore } from '../fakes/memory-token-store.ts';

// The consent-reuse rule (src/oidc/consent-reuse.ts) against an in-memory store. The engine
// is played by the few members loadExistingGrant reads: the client, the session, the
// interaction's result, and a Grant model that remembers what was saved. End to end, see
// test/interactions/consent-and-backchannel.flow.test.ts.

class FakeGrant {
  static readonly saved = new Map<string, FakeGrant>();
  static find(id: string): Promise<FakeGrant | undefined> {
    return Promise.resolve(FakeGrant.saved.get(id));
  }
  readonly accountId: string;
  readonly clientId: string;
  jti = `grant-${FakeGrant.saved.size + 1}`;
  openid: { scope?: string; claims?: string[] } | undefined;
  resources: Record<string, string> | undefined;
  constructor({ accountId, clientId }: { accountId: string; clientId: string }) {
    this.accountId = accountId;
    this.clientId = clientId;
  }
  addOIDCScope(scope: string) {
    this.openid = { ...this.openid, scope };
  }
  addOIDCClaims(claims: string[]) {
    this.openid = { ...this.openid, claims };
  }
  addResourceScope(indicator: string, scope: string) {
    this.resources = { ...this.resources, [indicator]: scope };
  }
  save() {
    FakeGrant.saved.set(this.jti, this);
    return Promise.resolve(this.jti);
  }
}

function context(options: { accountId?: string; clientId?: string; sessionGrant?: string; resultGrant?: string }): KoaContextWithOIDC {
  return {
    oidc: {
      client: options.clientId ? { clientId: options.clientId } : undefined,
      session: options.accountId
        ? { accountId: options.accountId, grantIdFor: (clientId: string) => (clientId === options.clientId ? options.sessionGrant : undefined) }
        : undefined,
      result: options.resultGrant ? { consent: { grantId: options.resultGrant } } : undefined,
      provider: { Grant: FakeGrant },
    },
  } as unknown as KoaContextWithOIDC;
}

const REMEMBERED = { oidcScope: 'openid email', oidcClaims: ['email'], resourceScopes: { 'https://api.example': 'read write' } };

describe('reusing consent for a new grant', () => {
  test("this session's live grant for the client is the grant, whatever is remembered", async () => {
    const store = createMemoryTokenStore();
    await store.rememberConsent('alice', 'web', REMEMBERED);
    const live = new FakeGrant({ accountId: 'alice', clientId: 'web' });
    await live.save();
    const grant = await createLoadExistingGrant(store)(context({ accountId: 'alice', clientId: 'web', sessionGrant: live.jti }));
    assert.equal(grant, live);
  });

  test("the grant the consent step just chose goes before the session's", async () => {
    const store = createMemoryTokenStore();
    const [chosen, older] = [new FakeGrant({ accountId: 'alice', clientId: 'web' }), new FakeGrant({ accountId: 'alice', clientId: 'web' })];
    chosen.jti = 'chosen';
    older.jti = 'older';
    await chosen.save();
    await older.save();
    const grant = await createLoadExistingGrant(store)(context({ accountId: 'alice', clientId: 'web', sessionGrant: 'older', resultGrant: 'chosen' }));
    assert.equal(grant, chosen);
  });

  test('without a live grant, a new grant starts from what the person allowed the client before, and is saved', async () => {
    const store = createMemoryTokenStore();
    await store.rememberConsent('alice', 'web', REMEMBERED);
    const grant = (await createLoadExistingGrant(store)(context({ accountId: 'alice', clientId: 'web', sessionGrant: 'gone' }))) as unknown as FakeGrant;
    assert.ok(grant);
    assert.equal(grant.accountId, 'alice');
    assert.equal(grant.clientId, 'web');
    assert.deepEqual(grant.openid, { scope: 'openid email', claims: ['email'] });
    assert.deepEqual(grant.resources, { 'https://api.example': 'read write' });
    assert.equal(FakeGrant.saved.get(grant.jti), grant);
  });

  test('consent is per client: another client of the same person starts with nothing (the engine asks)', async () => {
    const store = createMemoryTokenStore();
    await store.rememberConsent('alice', 'web', REMEMBERED);
    assert.equal(await createLoadExistingGrant(store)(context({ accountId: 'alice', clientId: 'other' })), undefined);
    assert.equal(await createLoadExistingGrant(store)(context({ accountId: 'bob', clientId: 'web' })), undefined);
  });

  test('before login there is no grant to reuse', async () => {
    const store = createMemoryTokenStore();
    await store.rememberConsent('alice', 'web', REMEMBERED);
    assert.equal(await createLoadExistingGrant(store)(context({ clientId: 'web' })), undefined);
  });

  test('what a grant holds is remembered as consent, and a new grant carries it back', async () => {
    const store = createMemoryTokenStore();
    const given = new FakeGrant({ accountId: 'alice', clientId: 'web' });
    given.addOIDCScope('openid profile');
    given.addOIDCClaims(['name']);
    given.addResourceScope('https://api.example', 'read');
    const consent = consentOf(given);
    assert.deepEqual(consent, { oidcScope: 'openid profile', oidcClaims: ['name'], resourceScopes: { 'https://api.example': 'read' } });
    await store.rememberConsent('alice', 'web', consent);
    const grant = (await createLoadExistingGrant(store)(context({ accountId: 'alice', clientId: 'web' }))) as unknown as FakeGrant;
    assert.deepEqual(consentOf(grant), consent);
  });
});
