import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { mayRepeat, type RotationBinding } from '../../src/oidc/refresh-grace-eligibility.ts';

// The grace rule alone (src/oidc/refresh-grace-eligibility.ts): a retry gets the first
// rotation's response only when it matches on every point, and never for a public client
// that proves nothing. In the rotation, see test/oidc/refresh-rotation.unit.test.ts.

const confidential: RotationBinding = { clientId: 'web', authMethod: 'client_secret_basic', jkt: null, asked: '[null,[]]' };

describe('refresh grace eligibility (unit)', () => {
  test('the same client, authenticated the same way, with the same key and asking the same, may get the repeat', () => {
    assert.equal(mayRepeat(confidential, { ...confidential }), true);
    const dpop = { ...confidential, jkt: 'thumb-1' };
    assert.equal(mayRepeat(dpop, { ...dpop }), true);
  });

  test('a reply stored before requests were compared (a rolling deploy) is repeated to its client without comparing them; every other point still counts', () => {
    const { asked: _asked, ...stored } = confidential;
    assert.equal(mayRepeat(stored, { ...confidential, asked: '["openid",[]]' }), true);
    assert.equal(mayRepeat(stored, { ...confidential, clientId: 'other' }), false);
    assert.equal(mayRepeat({ ...stored, authMethod: 'none' }, { ...confidential, authMethod: 'none' }), false, 'still never a public client without DPoP');
  });

  test('a retry without an authenticated client is refused', () => {
    assert.equal(mayRepeat(confidential, undefined), false);
  });

  test('each mismatch on its own refuses: client, auth method, DPoP key, scope and resources', () => {
    const mismatches: Partial<RotationBinding>[] = [
      { clientId: 'other' },
      { authMethod: 'client_secret_post' },
      { jkt: 'thumb-2' },
      { asked: '["openid",[]]' },
      { asked: '[null,["https://api.example"]]' },
    ];
    for (const change of mismatches) {
      assert.equal(mayRepeat(confidential, { ...confidential, ...change }), false, JSON.stringify(change));
    }
    const dpop = { ...confidential, jkt: 'thumb-1' };
    assert.equal(mayRepeat(dpop, { ...dpop, jkt: null }), false, 'the proof left out');
    assert.equal(mayRepeat(dpop, { ...dpop, jkt: 'thumb-2' }), false, 'another key');
  });

  test('a public client without DPoP never gets a repeat, even asking exactly the same', () => {
    const publicClient: RotationBinding = { ...confidential, clientId: 'spa', authMethod: 'none' };
    assert.equal(mayRepeat(publicClient, { ...publicClient }), false);
  });

  test('a public client proving its DPoP key may get the repeat with the same key, not another', () => {
    const publicDpop: RotationBinding = { ...confidential, clientId: 'spa', authMethod: 'none', jkt: 'thumb-1' };
    assert.equal(mayRepeat(publicDpop, { ...publicDpop }), true);
    assert.equal(mayRepeat(publicDpop, { ...publicDpop, jkt: 'thumb-2' }), false);
    assert.equal(mayRepeat(publicDpop, { ...publicDpop, jkt: null }), false);
  });
});
