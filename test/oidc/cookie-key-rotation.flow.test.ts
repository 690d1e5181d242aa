import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { cookieKeyId, createKeyPolicy, createKeyRotation, createPrismaKeyStore, type KeyRotation } from '../../src/oidc/index.ts';
import { authorizationRequest, runBrowser, type CookieJar } from '../helpers/browserless-login.ts';
import { TEST_ENGINE } from '../helpers/test-database.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// Cookie keys rotate like signing keys: a person signed in before the rotation stays
// signed in after the new key signs (the old key still verifies), and only retiring the
// old key with --force ends such a session, as `keys retire` warns.

const EMAIL = 'ada@example.com';
const PASSWORD = 'a long enough password 123';
const REDIRECT = 'http://localhost:8080/callback';
const ENV = { JWKS_MAX_AGE: '1', KEY_REFRESH_INTERVAL: '1', KEY_ANNOUNCE_DELAY: '3', RATE_LIMIT_IP: 'off' };

let server: TestServer;
let rotation: KeyRotation;

before(async () => {
  server = await startTestServer(ENV, {
    background: true,
    declare: {
      users: [{ email: EMAIL, name: 'Ada', password: PASSWORD, emailVerified: true }],
      clients: [{ clientId: 'web', type: 'web', name: 'Web app', redirectUris: [REDIRECT], scopes: ['openid'] }],
    },
  });
  rotation = createKeyRotation({ store: createPrismaKeyStore(server.database.prisma), sealer: server.sealer, policy: createKeyPolicy(server.config, server.services.resources) });
});
after(async () => {
  await server?.close();
});

/** A silent authorization request with `jar`'s session: whether the session was recognised. */
async function signedIn(jar: CookieJar): Promise<boolean> {
  const request = authorizationRequest(server.issuer, { client_id: 'web', redirect_uri: REDIRECT, prompt: 'none' });
  const { url } = await runBrowser(request.url, { jar });
  assert.equal(url.origin + url.pathname, REDIRECT);
  return url.searchParams.has('code') && !url.searchParams.has('error');
}

test(`a session cookie signed with the old cookie key still works after a cookie key rotation (${TEST_ENGINE})`, { timeout: 60_000 }, async () => {
  const login = await runBrowser(authorizationRequest(server.issuer, { client_id: 'web', redirect_uri: REDIRECT }).url, { email: EMAIL, password: PASSWORD });
  assert.ok(login.url.searchParams.has('code'), 'signed in');
  const beforeRotation = login.jar.copy();
  const oldCookieKey = (await rotation.list()).find((key) => key.use === 'cookie' && key.state === 'signing')!;

  const announced = await rotation.rotate({ cookie: true });
  assert.equal(announced.signing.length, 0, '--cookie alone rotates only the cookie key');
  const [newKey] = announced.cookies;
  // Wait for the new key to sign on this instance.
  const firstSecret = server.keys().cookieKeys[0];
  const started = Date.now();
  while (server.keys().cookieKeys[0] === firstSecret) {
    if (Date.now() - started > 10_000) assert.fail('the new cookie key never started signing');
    await sleep(100);
  }
  assert.equal((await rotation.list()).find((key) => key.kid === cookieKeyId(newKey!.id))?.state, 'signing');

  assert.equal(await signedIn(beforeRotation.copy()), true, 'a cookie signed with the old key is still verified');
  // A new sign-in works too (signed with the new key).
  const fresh = await runBrowser(authorizationRequest(server.issuer, { client_id: 'web', redirect_uri: REDIRECT }).url, { email: EMAIL, password: PASSWORD });
  assert.ok(fresh.url.searchParams.has('code'));
  assert.equal(await signedIn(fresh.jar), true);

  // Too early to retire the old key: sessions it signed live SESSION_TTL.
  await assert.rejects(rotation.retire(oldCookieKey.kid), /may still have signed valid cookies until/);
  await rotation.retire(oldCookieKey.kid, { force: true });
  await server.refreshKeys();
  assert.equal(await signedIn(beforeRotation.copy()), false, 'forced retirement ends sessions only the old key signed');
  assert.equal(await signedIn(fresh.jar), true, 'sessions signed with the new key go on');
});
