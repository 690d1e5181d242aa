import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';

import { address, assertThrottledBurst, burst, drain, openLoginForm, postLogin, queriesByCommand } from '../helpers/abuse.ts';
import { captureAudit } from '../helpers/capture-audit.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// Password guessing at the login form, behind a trusted proxy (X-Forwarded-For): attackers
// from many addresses are slowed, one address guessing at one account is blocked for it, and
// the owner on her own address or device is never stopped. Default throttle settings, but
// for waits of at most 1 s (AUTH_THROTTLE_MAX_DELAY), so a block is reached in seconds, and
// a login budget that lets one address post that often.

const REDIRECT = 'http://localhost:8080/callback';
const ANN = { email: 'ann@example.com', password: 'ann has a long password' };
const BOB = { email: 'bob@example.com', password: 'bob has a long password' };
const CAROL = { email: 'carol@example.com', password: 'carol has a long password' };
const ANN_HOME = '192.0.2.10';

let server: TestServer;
let client: { clientId: string; redirectUri: string };
const audit = captureAudit();

before(async () => {
  server = await startTestServer({ TRUST_PROXY: 'true', LOG_LEVEL: 'warn', AUTH_THROTTLE_MAX_DELAY: '1', RATE_LIMIT_LOGIN: '600/1m' }, { audit });
  for (const person of [ANN, BOB, CAROL]) await server.services.accounts.create({ ...person, name: person.email });
  const created = await server.services.clients.create({ type: 'web', name: 'Web', redirectUris: [REDIRECT] });
  client = { clientId: created.client.clientId, redirectUri: REDIRECT };
});

after(async () => {
  await server?.close();
});

/** A successful login answers with the redirect back to the authorization endpoint. */
function signedIn(response: Response): boolean {
  return response.status === 303 && /\/auth\//.test(response.headers.get('location') ?? '');
}

describe('password guessing', () => {
  test('200 wrong passwords from 200 addresses do not stop the owner signing in from her own address or device', async () => {
    // Ann signed in from home before: her address and her browser are known for her account.
    const home = await openLoginForm(server.issuer, client, ANN_HOME);
    assert.ok(signedIn(await postLogin(home, ANN.email, ANN.password, ANN_HOME)));
    const laptop = home.jar;

    const attack = await openLoginForm(server.issuer, client, address(1));
    const statuses = new Map<number, number>();
    for (let i = 0; i < 200; i++) {
      const response = await postLogin(attack, ANN.email, `guess number ${i}`, address(1000 + i));
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      if (response.status === 429) {
        assert.ok(Number(response.headers.get('retry-after')) >= 1);
        assert.match(await response.text(), /Too many attempts/);
      } else {
        await response.body?.cancel();
      }
    }
    assert.deepEqual([...statuses.keys()].sort(), [401, 429], 'every guess was refused: wrong (401) or throttled (429)');
    assert.ok((statuses.get(401) ?? 0) < 60, `only ${statuses.get(401)} of 200 guesses reached the password check`);

    // A stranger's address without history is slowed (a wait, never a block)...
    const stranger = await openLoginForm(server.issuer, client, '198.51.100.99');
    const slowed = await postLogin(stranger, ANN.email, ANN.password, '198.51.100.99');
    assert.equal(slowed.status, 429);
    assert.ok(Number(slowed.headers.get('retry-after')) <= 60);
    assert.match(await slowed.text(), /Too many failed sign-ins\. You can try again at \d\d:\d\d UTC \(in \d+ seconds?\)\./);

    // ...while Ann at home signs straight in, and so does her laptop from a café.
    const again = await openLoginForm(server.issuer, client, ANN_HOME);
    assert.ok(signedIn(await postLogin(again, ANN.email, ANN.password, ANN_HOME)), 'the owner signs in from her own address');
    const cafe = await openLoginForm(server.issuer, client, '203.0.113.80', laptop);
    assert.ok(signedIn(await postLogin(cafe, ANN.email, ANN.password, '203.0.113.80')), 'the owner signs in with her own device');
    assert.equal(audit.events.filter((event) => event.type === 'login.blocked').length, 0, 'nobody was blocked');
  });

  test('50 quick wrong passwords from one address get 3 free checks and no more than the delays allow; guessing on as told blocks that address for that account, and only for it', async () => {
    const attacker = '203.0.113.66';
    const form = await openLoginForm(server.issuer, client, attacker);
    // All at once: the reservations decide, not the order of arrival.
    const { responses, elapsedMs } = await burst(50, (i) => postLogin(form, BOB.email, `guess ${i}`, attacker));
    const statuses = responses.map((response) => response.status);
    await drain(responses);
    const checked = assertThrottledBurst(statuses, elapsedMs);
    assert.ok(checked >= 3, 'the three free guesses were checked');

    // Refused retries count for nothing; checked failures do: the 10th blocks the address.
    let failures = checked;
    for (let i = 0; i < 40 && failures < 10; i++) {
      const response = await postLogin(form, BOB.email, `patient guess ${i}`, attacker);
      await response.body?.cancel();
      if (response.status === 401) failures++;
      else await sleep(Number(response.headers.get('retry-after')) * 1000 + 50);
    }
    assert.equal(failures, 10);

    const right = await postLogin(form, BOB.email, BOB.password, attacker);
    assert.equal(right.status, 429, 'even the right password is refused from there');
    assert.ok(Number(right.headers.get('retry-after')) > 800, 'for the whole window');
    assert.match(await right.text(), /Too many failed sign-ins for this account from your network/);

    const otherAccount = await openLoginForm(server.issuer, client, attacker);
    assert.ok(signedIn(await postLogin(otherAccount, CAROL.email, CAROL.password, attacker)), 'the address may sign in to other accounts');
    const bobElsewhere = await openLoginForm(server.issuer, client, '198.51.100.5');
    assert.ok(signedIn(await postLogin(bobElsewhere, BOB.email, BOB.password, '198.51.100.5')), 'Bob signs in from elsewhere');

    const blocks = audit.events.filter((event) => event.type === 'login.blocked');
    assert.equal(blocks.length, 1, 'one event per block');
    assert.equal(blocks[0]!.ip, attacker);
    assert.equal(blocks[0]!.data?.scope, 'account_address');
  });

  test('a refused login costs no password hash and writes nothing; its reads are one small query a second however many are refused', async () => {
    // The address blocked for Bob above.
    const attacker = '203.0.113.66';
    const form = await openLoginForm(server.issuer, client, attacker);
    const before = await queriesByCommand(server.metrics);
    const started = performance.now();
    for (let i = 0; i < 20; i++) {
      const response = await postLogin(form, BOB.email, BOB.password, attacker);
      assert.equal(response.status, 429);
      await response.body?.cancel();
    }
    const elapsed = performance.now() - started;
    const after = await queriesByCommand(server.metrics);
    const grown: Record<string, number> = {};
    for (const [command, count] of Object.entries(after)) if (count !== (before[command] ?? 0)) grown[command] = count - (before[command] ?? 0);
    // Before refusing, the throttle looks for operators' releases (portcullis users unblock),
    // at most once a second: the only query, a read.
    assert.deepEqual(Object.keys(grown).filter((command) => command !== 'SELECT'), [], `no write for 20 refused logins: ${JSON.stringify(grown)}`);
    assert.ok((grown.SELECT ?? 0) <= Math.ceil(elapsed / 1000) + 1, `at most one read a second: ${JSON.stringify(grown)} in ${Math.round(elapsed)} ms`);
    // (argon2 is reached only after the account lookup, which did not happen.)
    assert.ok(elapsed < 2_000);
  });

  test('an unknown email is throttled exactly like a known one', async () => {
    const attacker = '203.0.113.68';
    const form = await openLoginForm(server.issuer, client, attacker);
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 12; i++) {
      known.push((await postLogin(form, 'carol@example.com', `x${i}`, attacker)).status);
      unknown.push((await postLogin(form, 'nobody@example.com', `x${i}`, attacker)).status);
    }
    assert.deepEqual(unknown, known);
  });
});

for (const [address, typed] of [
  ['203.0.113.201', 'correct horse battery staple'],
  ['203.0.113.202', 'P@ssw0rd-horse'],
  ['203.0.113.203', 'horse@2024'],
] as const) test(`a password typed into the email field (${typed.replace(/\w/g, '*')}) never lands in the audit trail when its attempts are blocked`, async () => {
  const form = await openLoginForm(server.issuer, client, address);
  // Guessing on as told: each refused try waits what it was told (at most a second here).
  for (let attempt = 0; attempt < 40 && !audit.events.some((event) => event.type === 'login.blocked' && event.ip === address); attempt++) {
    const response = await postLogin(form, typed, `guess ${attempt}`, address);
    await response.body?.cancel();
    if (response.status === 429) await sleep(Number(response.headers.get('retry-after')) * 1000 + 50);
  }
  const blocks = audit.events.filter((event) => event.type === 'login.blocked' && event.ip === address);
  assert.ok(blocks.length >= 1, 'the attempts were blocked');
  for (const block of blocks) {
    assert.equal(block.data?.email, undefined);
    assert.ok(!JSON.stringify(block).includes('horse'), JSON.stringify(block));
  }
});
