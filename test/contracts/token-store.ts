// The contract every token store keeps (memory: *.unit.test.ts, Prisma on both databases:
// *.integration.test.ts): the same atomic rotation claims, the same consent merging, the same
// grant liveness and revocation, the same JWT standing and DPoP proof memory. The rules
// built on the store (refresh rotation, the verifier, consent reuse) are unit-tested against
// the fake, so the fake must answer as the database does; this suite is what says it does.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import type { GrantRow, TokenStore } from '../../src/oidc/token-store.ts';

/** A store and how a test puts rows in it as the engine's adapter would. */
export interface TokenStoreHarness {
  readonly store: TokenStore;
  readonly putRefreshToken: (id: string, row: { grantId?: string; rotatedFrom?: string }) => Promise<void>;
  readonly hasRefreshToken: (id: string) => Promise<boolean>;
  readonly putGrant: (row: GrantRow) => Promise<void>;
  /** A person and a client that consent may name (the database requires both to exist). */
  readonly newAccount: () => Promise<string>;
  readonly newClient: () => Promise<string>;
}

const LONG_LEASE = 60_000;
const unique = (prefix: string) => `${prefix}-${randomUUID()}`;
const past = () => new Date(Date.now() - 60_000);
const future = () => new Date(Date.now() + 60_000);

export function describeTokenStoreContract(harness: () => TokenStoreHarness): void {
  const grant = (overrides: Partial<GrantRow> = {}): GrantRow => ({
    id: unique('grant'),
    accountId: unique('account'),
    clientId: unique('client'),
    payload: { kind: 'Grant' },
    expiresAt: null,
    ...overrides,
  });

  describe('refresh-token rotation', () => {
    test('an unused refresh token is claimed once; a second claim within the lease is refused', async () => {
      const { store, putRefreshToken } = harness();
      const id = unique('rt');
      await putRefreshToken(id, {});
      assert.deepEqual(await store.readRotation(id), { claimAgeMs: undefined, rotated: false, successor: undefined });
      assert.equal(await store.claimRefreshToken(id, 'claim-1', LONG_LEASE), 'claimed');
      assert.equal(await store.claimRefreshToken(id, 'claim-2', LONG_LEASE), 'refused');
      const state = await store.readRotation(id);
      assert.ok(state?.claimAgeMs !== undefined && state.claimAgeMs >= 0 && state.claimAgeMs < LONG_LEASE);
      assert.equal(state.rotated, false);
    });

    test('of concurrent claims of one token exactly one wins', async () => {
      const { store, putRefreshToken } = harness();
      const id = unique('rt');
      await putRefreshToken(id, {});
      const outcomes = await Promise.all(Array.from({ length: 10 }, (_, i) => store.claimRefreshToken(id, `claim-${i}`, LONG_LEASE)));
      assert.equal(outcomes.filter((outcome) => outcome === 'claimed').length, 1);
      assert.equal(outcomes.filter((outcome) => outcome === 'refused').length, 9);
    });

    test('the successor is written with the completion, and only by the claim holding the token', async () => {
      const { store, putRefreshToken, hasRefreshToken } = harness();
      const grantId = unique('grant');
      const id = unique('rt');
      await putRefreshToken(id, { grantId });
      await store.claimRefreshToken(id, 'claim-1', LONG_LEASE);
      const next = (tag: string) => ({ id: unique(`rt-${tag}`), payload: { kind: 'RefreshToken' }, expiresAt: future(), grantId });
      const refused = next('refused');
      assert.equal(await store.completeRotation(id, 'claim-2', 'sealed-by-another', refused), false);
      assert.equal(await hasRefreshToken(refused.id), false, 'a claim that does not hold the token writes no successor');
      const successor = next('successor');
      assert.equal(await store.completeRotation(id, 'claim-1', 'sealed-successor', successor), true);
      assert.equal(await hasRefreshToken(successor.id), true);
      assert.equal((await store.findRefreshToken(successor.id))?.grantId, grantId);
      const late = next('late');
      assert.equal(await store.completeRotation(id, 'claim-1', 'sealed-again', late), false);
      assert.equal(await hasRefreshToken(late.id), false, 'a completed rotation writes no second successor');
    });

    test('only the claim holding the token completes it, and a completed rotation is final', async () => {
      const { store, putRefreshToken } = harness();
      const grantId = unique('grant');
      const id = unique('rt');
      await putRefreshToken(id, { grantId });
      await store.claimRefreshToken(id, 'claim-1', LONG_LEASE);
      assert.equal(await store.completeRotation(id, 'claim-2', 'sealed-by-another'), false);
      assert.equal(await store.completeRotation(id, 'claim-1', 'sealed-successor'), true);
      assert.equal(await store.completeRotation(id, 'claim-1', 'sealed-again'), false);
      await sleep(5);
      // Even past any lease: a completed rotation is never taken over.
      assert.equal(await store.claimRefreshToken(id, 'claim-3', 0), 'refused');
      const found = await store.findRefreshToken(id);
      assert.equal(found?.rotated, true);
      assert.equal(found.successor, 'sealed-successor');
      assert.equal(found.grantId, grantId);
      assert.equal(found.payload.kind, 'RefreshToken');
    });

    test('a claim that never completed within its lease is taken over, and what it stored is removed', async () => {
      const { store, putRefreshToken, hasRefreshToken } = harness();
      const id = unique('rt');
      const orphan = unique('rt');
      await putRefreshToken(id, {});
      assert.equal(await store.claimRefreshToken(id, 'claim-1', LONG_LEASE), 'claimed');
      await putRefreshToken(orphan, { rotatedFrom: id });
      await sleep(20);
      assert.equal(await store.claimRefreshToken(id, 'claim-2', LONG_LEASE), 'refused', 'still within a long lease');
      assert.equal(await store.claimRefreshToken(id, 'claim-2', 5), 'taken_over');
      assert.equal(await hasRefreshToken(orphan), false);
      assert.equal(await store.completeRotation(id, 'claim-1', 'late'), false, 'the replaced claim can no longer complete');
      assert.equal(await store.completeRotation(id, 'claim-2', 'sealed'), true);
    });

    test('a released claim frees the token for a retry at once and removes what the claim stored', async () => {
      const { store, putRefreshToken, hasRefreshToken } = harness();
      const id = unique('rt');
      const stored = unique('rt');
      await putRefreshToken(id, {});
      await store.claimRefreshToken(id, 'claim-1', LONG_LEASE);
      await putRefreshToken(stored, { rotatedFrom: id });
      await store.releaseClaim(id, 'claim-2');
      assert.equal(await store.claimRefreshToken(id, 'claim-3', LONG_LEASE), 'refused', 'another claim releases nothing');
      await store.releaseClaim(id, 'claim-1');
      assert.equal(await hasRefreshToken(stored), false);
      assert.equal((await store.readRotation(id))?.claimAgeMs, undefined);
      assert.equal(await store.claimRefreshToken(id, 'claim-3', LONG_LEASE), 'claimed');
    });

    test('a claim taken over is released only by its holder: the late failure of the old claim neither frees the token nor removes the new successor', async () => {
      const { store, putRefreshToken, hasRefreshToken } = harness();
      const id = unique('rt');
      const successor = unique('rt');
      await putRefreshToken(id, {});
      assert.equal(await store.claimRefreshToken(id, 'slow', 1), 'claimed');
      await sleep(20);
      assert.equal(await store.claimRefreshToken(id, 'retry', 1), 'taken_over');
      await putRefreshToken(successor, { rotatedFrom: id });
      // The slow request finally fails and gives up what it thinks is its claim.
      await store.releaseClaim(id, 'slow');
      assert.equal(await hasRefreshToken(successor), true, 'the holder’s successor survives');
      assert.equal(await store.completeRotation(id, 'retry', 'sealed'), true, 'the holder still completes');
      assert.equal((await store.readRotation(id))?.rotated, true);
    });

    test('a completed rotation is never undone by a release', async () => {
      const { store, putRefreshToken, hasRefreshToken } = harness();
      const id = unique('rt');
      const successor = unique('rt');
      await putRefreshToken(id, {});
      assert.equal(await store.claimRefreshToken(id, 'mine', LONG_LEASE), 'claimed');
      await putRefreshToken(successor, { rotatedFrom: id });
      assert.equal(await store.completeRotation(id, 'mine', 'sealed'), true);
      await store.releaseClaim(id, 'mine');
      assert.equal(await hasRefreshToken(successor), true);
      assert.equal(await store.claimRefreshToken(id, 'again', LONG_LEASE), 'refused');
    });

    test('a missing refresh token is not found and cannot be claimed', async () => {
      const { store } = harness();
      const id = unique('missing');
      assert.equal(await store.findRefreshToken(id), undefined);
      assert.equal(await store.readRotation(id), undefined);
      assert.equal(await store.claimRefreshToken(id, 'claim', LONG_LEASE), 'refused');
      assert.equal(await store.completeRotation(id, 'claim', 'sealed'), false);
    });
  });

  describe('remembered consent', () => {
    test('consent is remembered per person and client, and each new consent adds to it', async () => {
      const { store, newAccount, newClient } = harness();
      const [account, client, other] = [await newAccount(), await newClient(), await newClient()];
      assert.equal(await store.findConsent(account, client), undefined);
      await store.rememberConsent(account, client, { oidcScope: 'openid email', oidcClaims: ['email'], resourceScopes: { 'https://api': 'read' } });
      await store.rememberConsent(account, client, {
        oidcScope: 'openid profile',
        oidcClaims: ['name'],
        resourceScopes: { 'https://api': 'write read', 'https://other': 'list' },
      });
      const consent = await store.findConsent(account, client);
      assert.deepEqual(new Set(consent?.oidcScope.split(' ')), new Set(['openid', 'email', 'profile']));
      assert.deepEqual(new Set(consent?.oidcClaims), new Set(['email', 'name']));
      assert.deepEqual(new Set(consent?.resourceScopes['https://api']?.split(' ')), new Set(['read', 'write']));
      assert.equal(consent?.resourceScopes['https://other'], 'list');
      assert.equal(await store.findConsent(account, other), undefined, 'another client has none');
    });

    test('consent is forgotten for one client of a person, or for everyone of a client', async () => {
      const { store, newAccount, newClient } = harness();
      const [alice, bob, web, app] = [await newAccount(), await newAccount(), await newClient(), await newClient()];
      const consent = { oidcScope: 'openid', oidcClaims: [], resourceScopes: {} };
      for (const account of [alice, bob]) for (const client of [web, app]) await store.rememberConsent(account, client, consent);
      assert.equal(await store.forgetConsent({ accountId: alice, clientId: web }), 1);
      assert.equal(await store.findConsent(alice, web), undefined);
      assert.ok(await store.findConsent(alice, app));
      assert.equal(await store.forgetConsent({ clientId: app }), 2);
      assert.equal(await store.findConsent(bob, app), undefined);
      assert.ok(await store.findConsent(bob, web));
      assert.equal(await store.forgetConsent({ accountId: bob }), 1);
    });
  });

  describe('grants', () => {
    test('a person sees only their live grants; an expired or unknown grant is not found', async () => {
      const { store, putGrant } = harness();
      const accountId = unique('account');
      const live = grant({ accountId, expiresAt: future() });
      const forever = grant({ accountId });
      const expired = grant({ accountId, expiresAt: past() });
      for (const row of [live, forever, expired, grant()]) await putGrant(row);
      assert.deepEqual(new Set((await store.listGrants({ accountId })).map((row) => row.id)), new Set([live.id, forever.id]));
      const found = await store.findGrant(live.id);
      assert.equal(found?.accountId, accountId);
      assert.equal(found.clientId, live.clientId);
      assert.equal(await store.findGrant(expired.id), undefined);
      assert.equal(await store.findGrant(unique('grant')), undefined);
    });

    test('grant ids are found by person, by client, or both, live or not', async () => {
      const { store, putGrant } = harness();
      const [accountId, clientId] = [unique('account'), unique('client')];
      const both = grant({ accountId, clientId, expiresAt: past() });
      const personOnly = grant({ accountId });
      const clientOnly = grant({ clientId });
      for (const row of [both, personOnly, clientOnly]) await putGrant(row);
      assert.deepEqual(new Set(await store.grantIds({ accountId })), new Set([both.id, personOnly.id]));
      assert.deepEqual(new Set(await store.grantIds({ clientId })), new Set([both.id, clientOnly.id]));
      assert.deepEqual(await store.grantIds({ accountId, clientId }), [both.id]);
    });

    test('revoking grants deletes them and the tokens under them, and nothing else', async () => {
      const { store, putGrant, putRefreshToken, hasRefreshToken } = harness();
      const [revoked, kept] = [grant(), grant()];
      await putGrant(revoked);
      await putGrant(kept);
      const [one, two, other] = [unique('rt'), unique('rt'), unique('rt')];
      await putRefreshToken(one, { grantId: revoked.id });
      await putRefreshToken(two, { grantId: revoked.id });
      await putRefreshToken(other, { grantId: kept.id });
      assert.deepEqual(await store.revokeGrants([revoked.id]), { grants: 1, tokens: 2 });
      assert.equal(await store.findGrant(revoked.id), undefined);
      assert.equal(await hasRefreshToken(one), false);
      assert.equal(await hasRefreshToken(two), false);
      assert.ok(await store.findGrant(kept.id));
      assert.equal(await hasRefreshToken(other), true);
      assert.deepEqual(await store.revokeGrants([revoked.id]), { grants: 0, tokens: 0 }, 'revoking again finds nothing');
      assert.deepEqual(await store.revokeGrants([]), { grants: 0, tokens: 0 });
    });
  });

  describe('JWT access tokens', () => {
    test("a JWT's standing: denied once on the deny-list, and live only while the grant it names is", async () => {
      const { store, putGrant } = harness();
      const [live, expired] = [grant(), grant({ expiresAt: past() })];
      await putGrant(live);
      await putGrant(expired);
      const jti = unique('jti');
      assert.deepEqual(await store.jwtStanding(jti, undefined), { denied: false, grantLive: true });
      assert.deepEqual(await store.jwtStanding(jti, live.id), { denied: false, grantLive: true });
      assert.deepEqual(await store.jwtStanding(jti, expired.id), { denied: false, grantLive: false });
      assert.deepEqual(await store.jwtStanding(jti, unique('grant')), { denied: false, grantLive: false });
      await store.denyJwt(jti, future());
      await store.denyJwt(jti, future());
      assert.deepEqual(await store.jwtStanding(jti, live.id), { denied: true, grantLive: true });
      assert.deepEqual(await store.jwtStanding(unique('jti'), live.id), { denied: false, grantLive: true }, 'only that jti');
    });
  });

  describe('DPoP proofs at the resource endpoints', () => {
    test('a proof id is accepted once per key', async () => {
      const { store } = harness();
      const [key, jti] = [unique('jkt'), unique('jti')];
      assert.equal(await store.firstUse(key, jti, future()), true);
      assert.equal(await store.firstUse(key, jti, future()), false);
      assert.equal(await store.firstUse(unique('jkt'), jti, future()), true);
    });
  });

  describe('pushed authorization requests', () => {
    test('a pushed request is taken by exactly one authorization, even of a concurrent burst', async () => {
      const { store } = harness();
      const id = unique('par');
      const taken = await Promise.all(Array.from({ length: 8 }, () => store.takePushedRequest(id, future())));
      assert.equal(taken.filter(Boolean).length, 1);
      assert.equal(await store.takePushedRequest(id, future()), false, 'and never again');
      assert.equal(await store.takePushedRequest(unique('par'), future()), true, 'another request is its own');
      assert.equal(await store.firstUse(unique('jkt'), id, future()), true, 'a DPoP proof id equal to a request id is not the same thing');
    });
  });
}
