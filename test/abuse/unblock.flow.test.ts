import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';

import { openLoginForm, postLogin } from '../helpers/abuse.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// An operator lifts a block (`portcullis users unblock` leaves a release in the database,
// through the same store as here; test/cli/unblock.integration.test.ts runs the command):
// the server that holds the counts in memory applies it at the next attempt it would
// refuse, and the person signs in. Blocks after 2 failures; waits of at most 1 s.

const REDIRECT = 'http://localhost:8080/callback';
const ANN = { email: 'ann@example.com', password: 'ann has a long password' };
const BOB = { email: 'bob@example.com', password: 'bob has a long password' };

let server: TestServer;
let client: { clientId: string; redirectUri: string };

before(async () => {
  server = await startTestServer({
    TRUST_PROXY: 'true',
    LOG_LEVEL: 'warn',
    AUTH_THROTTLE_FREE_FAILURES: '1',
    AUTH_THROTTLE_BLOCK_AFTER: '2',
    AUTH_THROTTLE_IP_FREE_FAILURES: '2',
    AUTH_THROTTLE_IP_BLOCK_AFTER: '4',
    AUTH_THROTTLE_MAX_DELAY: '1',
    RATE_LIMIT_LOGIN: '600/1m',
  });
  for (const person of [ANN, BOB]) await server.services.accounts.create({ ...person, name: person.email });
  const created = await server.services.clients.create({ type: 'web', name: 'Web', redirectUris: [REDIRECT] });
  client = { clientId: created.client.clientId, redirectUri: REDIRECT };
});

after(async () => {
  await server?.close();
});

const signedIn = (response: Response) => response.status === 303 && /\/auth\//.test(response.headers.get('location') ?? '');

/** Wrong passwords from `ip` until the throttle answers with a block (it waits as told). */
async function guessUntilBlocked(email: string, ip: string): Promise<void> {
  const form = await openLoginForm(server.issuer, client, ip);
  for (let i = 0; i < 20; i++) {
    const response = await postLogin(form, email, `wrong guess ${i}`, ip);
    await response.body?.cancel();
    // A delay is at most AUTH_THROTTLE_MAX_DELAY (1 s); a block lasts the window.
    const wait = Number(response.headers.get('retry-after'));
    if (response.status === 429 && wait > 60) return;
    if (response.status === 429) await sleep(wait * 1000 + 50);
  }
  assert.fail(`${email} from ${ip} was never blocked`);
}

/** The right password from `ip`, after the release reached the throttle (it looks at most once a second). */
async function signInAfterRelease(email: string, password: string, ip: string): Promise<Response> {
  await sleep(1_100);
  const form = await openLoginForm(server.issuer, client, ip);
  return postLogin(form, email, password, ip);
}

test('users unblock <email> lifts the block of an account on its address, and the owner signs in at once', async () => {
  const ip = '203.0.113.7';
  await guessUntilBlocked(ANN.email, ip);
  const form = await openLoginForm(server.issuer, client, ip);
  const refused = await postLogin(form, ANN.email, ANN.password, ip);
  assert.equal(refused.status, 429, 'blocked: even the right password is refused');
  await refused.body?.cancel();

  await server.services.throttleReleases.add({ subject: ANN.email });
  assert.ok(signedIn(await signInAfterRelease(ANN.email, ANN.password, ip)), 'released: the right password signs in');
});

test('users unblock --address lifts the block of an address, for every account at it', async () => {
  const ip = '198.51.100.23';
  // Guessing at many accounts from one address blocks the address itself (a block lasts the window).
  const guesser = await openLoginForm(server.issuer, client, ip);
  let blocked = false;
  for (let i = 0; i < 20 && !blocked; i++) {
    const response = await postLogin(guesser, `nobody-${i}@example.com`, 'a guess', ip);
    await response.body?.cancel();
    const wait = Number(response.headers.get('retry-after'));
    if (response.status === 429 && wait > 60) blocked = true;
    else if (response.status === 429) await sleep(wait * 1000 + 50);
  }
  assert.ok(blocked, 'the address was blocked');
  const form = await openLoginForm(server.issuer, client, ip);
  const refused = await postLogin(form, BOB.email, BOB.password, ip);
  assert.equal(refused.status, 429, 'the address is blocked for Bob too');
  assert.match(await refused.text(), /from your network/);

  // Another account's release does not touch the address.
  await server.services.throttleReleases.add({ subject: ANN.email });
  const still = await signInAfterRelease(BOB.email, BOB.password, ip);
  assert.equal(still.status, 429);
  await still.body?.cancel();

  await server.services.throttleReleases.add({ address: ip });
  assert.ok(signedIn(await signInAfterRelease(BOB.email, BOB.password, ip)), 'released: Bob signs in from the address');
});
