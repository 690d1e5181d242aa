import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';

import { address, drain, openLoginForm, postLogin } from '../helpers/abuse.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// One instance without Redis keeps its counts in memory, bounded. A flood of fresh keys
// (guesses from many addresses at many made-up accounts) may push out ordinary counters,
// never an active block or a trusted device: those live in a store of their own
// (RATE_LIMIT_MEMORY_BLOCKS). Counters are kept small here so the flood is short.

const REDIRECT = 'http://localhost:8080/callback';
const PASSWORD = 'a long and correct password';
const FLOOD = 300;

let server: TestServer;
let web: { clientId: string; redirectUri: string };

before(async () => {
  server = await startTestServer({
    TRUST_PROXY: 'true',
    LOG_LEVEL: 'warn',
    RATE_LIMIT_MEMORY_KEYS: '100',
    RATE_LIMIT_MEMORY_BLOCKS: '1000',
    AUTH_THROTTLE_FREE_FAILURES: '1',
    AUTH_THROTTLE_BLOCK_AFTER: '3',
    AUTH_THROTTLE_MAX_DELAY: '1',
  });
  for (const name of ['bob']) await server.services.accounts.create({ email: `${name}@example.com`, name, password: PASSWORD });
  web = { clientId: (await server.services.clients.create({ type: 'web', name: 'Web', redirectUris: [REDIRECT] })).client.clientId, redirectUri: REDIRECT };
});

after(async () => {
  await server?.close();
});

function signedIn(response: Response): boolean {
  return response.status === 303 && /\/auth\//.test(response.headers.get('location') ?? '');
}

describe('the in-memory throttle under a flood of fresh keys', () => {
  test('an active block and a trusted device outlive a flood of 300 fresh keys', async () => {
    // Bob signed in on his laptop behind a shared address: the device is trusted for him.
    const nat = '192.0.2.60';
    const laptop = await openLoginForm(server.issuer, web, nat);
    assert.ok(signedIn(await postLogin(laptop, 'bob@example.com', PASSWORD, nat)));

    // Someone else behind that address guesses at Bob until the address is blocked for him.
    const form = await openLoginForm(server.issuer, web, nat);
    let blocked = false;
    for (let i = 0; i < 30 && !blocked; i++) {
      const response = await postLogin(form, 'bob@example.com', `guess ${i}`, nat);
      await response.body?.cancel();
      const wait = Number(response.headers.get('retry-after') ?? 0);
      blocked = response.status === 429 && wait > 60;
      if (response.status === 429 && !blocked) await sleep(wait * 1000 + 50);
    }
    assert.ok(blocked, 'the address is blocked for Bob');

    // The flood: one wrong guess each from 300 addresses at 300 made-up accounts (900 counts).
    const flood = await openLoginForm(server.issuer, web, address(0, 13));
    for (let batch = 0; batch < FLOOD; batch += 30) {
      const responses = await Promise.all(
        Array.from({ length: 30 }, (_, i) => postLogin(flood, `nobody-${batch + i}@example.com`, 'x', address(batch + i, 13))),
      );
      await drain(responses);
    }

    const stillBlocked = await postLogin(form, 'bob@example.com', PASSWORD, nat);
    assert.equal(stillBlocked.status, 429, 'the block holds');
    assert.ok(Number(stillBlocked.headers.get('retry-after')) > 60);
    await stillBlocked.body?.cancel();
    const again = await openLoginForm(server.issuer, web, nat, laptop.jar);
    assert.ok(signedIn(await postLogin(again, 'bob@example.com', PASSWORD, nat)), 'the trusted laptop still gets through the block');
  });
});
