import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';

import { openLoginForm, postLogin } from '../helpers/abuse.ts';
import { countingHasher, startTestServer, type TestServer } from '../helpers/test-server.ts';

// Nobody can keep the owner of an account out: her own early retries never count as
// failures, and her trusted browser gets through a block aimed at the address she shares
// (a NAT), while a stolen device cookie has a small failure count of its own. A small
// policy here, so a block is reached in seconds: one free failure per account and address,
// waits of 1 s, a block at the third counted failure.

const REDIRECT = 'http://localhost:8080/callback';
const PASSWORD = 'a long and correct password';
const POLICY = {
  AUTH_THROTTLE_FREE_FAILURES: '1',
  AUTH_THROTTLE_BLOCK_AFTER: '3',
  AUTH_THROTTLE_MAX_DELAY: '1',
};

let server: TestServer;
const hasher = countingHasher();
let web: { clientId: string; redirectUri: string };

before(async () => {
  server = await startTestServer({ TRUST_PROXY: 'true', LOG_LEVEL: 'warn', ...POLICY }, { hasher });
  for (const name of ['ann', 'dora', 'erin']) await server.services.accounts.create({ email: `${name}@example.com`, name, password: PASSWORD });
  web = { clientId: (await server.services.clients.create({ type: 'web', name: 'Web', redirectUris: [REDIRECT] })).client.clientId, redirectUri: REDIRECT };
});

after(async () => {
  await server?.close();
});

function signedIn(response: Response): boolean {
  return response.status === 303 && /\/auth\//.test(response.headers.get('location') ?? '');
}

/** Guesses from `ip`, waiting whenever asked to, until the address is blocked for the account. */
async function guessUntilBlocked(email: string, ip: string): Promise<void> {
  const form = await openLoginForm(server.issuer, web, ip);
  for (let i = 0; i < 30; i++) {
    const response = await postLogin(form, email, `wrong ${i}`, ip);
    await response.body?.cancel();
    const wait = Number(response.headers.get('retry-after') ?? 0);
    if (response.status === 429 && wait > 60) return;
    if (response.status === 429) await sleep(wait * 1000 + 50);
  }
  assert.fail('the address was never blocked');
}

describe('the owner is never locked out', () => {
  test("the owner's retries before her wait is over are refused without counting, so they never block her", async () => {
    const home = '192.0.2.40';
    const form = await openLoginForm(server.issuer, web, home);
    assert.equal((await postLogin(form, 'ann@example.com', 'a typo', home)).status, 401);
    let wait = 0;
    for (let i = 0; i < 8; i++) {
      const early = await postLogin(form, 'ann@example.com', PASSWORD, home);
      assert.equal(early.status, 429, 'too early: refused unchecked');
      wait = Number(early.headers.get('retry-after'));
      assert.ok(wait <= 1, `asked to wait ${wait} s, not blocked`);
      await early.body?.cancel();
    }
    await sleep(wait * 1000 + 50);
    const again = await openLoginForm(server.issuer, web, home);
    assert.ok(signedIn(await postLogin(again, 'ann@example.com', PASSWORD, home)), 'after the wait she signs in');
  });

  test('her trusted browser gets through a block that someone behind the same NAT address caused', async () => {
    const nat = '198.51.100.50';
    const laptop = await openLoginForm(server.issuer, web, nat);
    assert.ok(signedIn(await postLogin(laptop, 'dora@example.com', PASSWORD, nat)), 'Dora signed in on her laptop before');

    await guessUntilBlocked('dora@example.com', nat);
    const neighbour = await openLoginForm(server.issuer, web, nat);
    const blocked = await postLogin(neighbour, 'dora@example.com', PASSWORD, nat);
    assert.equal(blocked.status, 429, 'the address is blocked for the account, even with the right password');
    assert.ok(Number(blocked.headers.get('retry-after')) > 800);
    await blocked.body?.cancel();

    const again = await openLoginForm(server.issuer, web, nat, laptop.jar);
    assert.ok(signedIn(await postLogin(again, 'dora@example.com', PASSWORD, nat)), 'her laptop, behind the same address, signs in');
  });

  test('a stolen device cookie has its own small failure count: guesses with it are slowed like any other', async () => {
    const home = '192.0.2.41';
    const phone = await openLoginForm(server.issuer, web, home);
    assert.ok(signedIn(await postLogin(phone, 'erin@example.com', PASSWORD, home)));

    // The thief copies the cookie and guesses from elsewhere, as fast as he can.
    const thief = '203.0.113.41';
    const stolen = await openLoginForm(server.issuer, web, thief, phone.jar.copy());
    const before = hasher.verifications();
    for (let i = 0; i < 10; i++) await (await postLogin(stolen, 'erin@example.com', `guess ${i}`, thief)).body?.cancel();
    assert.ok(hasher.verifications() - before <= 1, `${hasher.verifications() - before} of 10 quick guesses reached argon2`);
  });
});
