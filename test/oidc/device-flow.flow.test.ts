import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import * as oidc from 'openid-client';

import { hashTokenId } from '../../src/oidc/index.ts';
import { captureAudit } from '../helpers/capture-audit.ts';
import { CookieJar, csrfToken, send, submitForm } from '../helpers/browserless-login.ts';
import { basicAuth, postAsClient } from '../helpers/token-endpoint.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// The device authorization grant (RFC 8628), driven by openid-client on the device's side
// while the person's side (the /device page, login, consent) is driven over plain HTTP:
// discovery (4), the device authorization request (3.1, 3.2) and the refusal of a client
// not registered for the grant (3.2 / RFC 6749 5.2 unauthorized_client), each polling
// answer of 3.5 (authorization_pending, slow_down, access_denied, expired_token), a device
// code bound to its client (3.4) and redeemed once, wrong user codes counted and refused
// per address (5.1), and the deployment switch (DEVICE_FLOW).

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const TV_API = 'https://tv-api.example.com';
const insecure = { execute: [oidc.allowInsecureRequests] };
const person = { email: 'viewer@example.com', password: 'a password long enough to watch with' };
const audit = captureAudit();

let server: TestServer;
let tv: oidc.Configuration;
let cli: oidc.Configuration;

before(async () => {
  server = await startTestServer({ LOG_LEVEL: 'warn', DEVICE_FLOW: 'true' }, {
    audit,
    declare: {
      resources: [
        { indicator: TV_API, name: 'TV API', scopes: [{ name: 'tv:watch', description: 'Watch the channels' }, { name: 'tv:admin', description: 'Change what the TV offers', roles: ['staff'] }] },
      ],
      clients: [
        { clientId: 'tv-api-box', type: 'native', name: 'Our Own TV', grantTypes: [DEVICE_GRANT], resources: [TV_API], scopes: ['tv:watch', 'tv:admin'] },
        { clientId: 'tv-box', type: 'native', name: 'Living Room TV', grantTypes: [DEVICE_GRANT, 'refresh_token'], scopes: ['openid', 'email', 'offline_access'] },
        { clientId: 'cli', type: 'web', name: 'Command Line', grantTypes: [DEVICE_GRANT], scopes: ['openid'] },
        { clientId: 'web', type: 'web', name: 'Web', redirectUris: ['https://web.example/callback'], scopes: ['openid'] },
      ],
      users: [{ email: person.email, name: 'Viewer', password: person.password }],
    },
  });
  const issuer = new URL(server.issuer);
  tv = await oidc.discovery(issuer, 'tv-box', undefined, oidc.None(), insecure);
  cli = await oidc.discovery(issuer, 'cli', server.declared.clientSecret('cli'), undefined, insecure);
});

after(async () => {
  await server?.close();
});

/** The engine's xsrf token in a /device page's form. */
function xsrfOf(html: string): string {
  const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)?.[1];
  if (!xsrf) throw new Error(`the page has no device form: ${html.slice(0, 400)}`);
  return xsrf;
}

/** Types a user code at /device as a person would; returns the answer to the typed code. */
async function typeCode(jar: CookieJar, userCode: string): Promise<Response> {
  const device = new URL('/device', server.issuer);
  const page = await send(jar, device, { headers: { accept: 'text/html' } });
  assert.equal(page.status, 200);
  return submitForm(jar, device, { xsrf: xsrfOf(await page.text()), user_code: userCode });
}

/**
 * Enters a user code at /device, confirms (or cancels) it, then signs in and answers the
 * consent page as for any app. Returns the last page's HTML.
 */
async function approve(userCode: string, options: { answer?: 'confirm' | 'abort'; consent?: 'allow' | 'deny'; onConsent?: (html: string) => void } = {}): Promise<string> {
  const jar = new CookieJar();
  const device = new URL('/device', server.issuer);
  const confirmation = await typeCode(jar, userCode);
  const confirmHtml = await confirmation.text();
  assert.equal(confirmation.status, 200, confirmHtml.slice(0, 400));
  assert.match(confirmHtml, /Living Room TV|Command Line|Our Own TV/);
  const choice: Record<string, string> = options.answer === 'abort' ? { abort: 'yes' } : { confirm: 'yes' };
  let response = await submitForm(jar, device, { xsrf: xsrfOf(confirmHtml), user_code: /name="user_code" value="([^"]+)"/.exec(confirmHtml)![1]!, ...choice });
  let current = device;
  for (let step = 0; step < 12; step++) {
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      current = new URL(location, current);
      assert.equal(current.origin, new URL(server.issuer).origin, 'the device flow never leaves the issuer');
      response = await send(jar, current, { headers: { accept: 'text/html' } });
      continue;
    }
    const html = await response.text();
    const login = /action="(\/interaction\/[^"]+\/login)"/.exec(html)?.[1];
    const confirm = /action="(\/interaction\/[^"]+\/confirm)"/.exec(html)?.[1];
    const abort = /action="(\/interaction\/[^"]+\/abort)"/.exec(html)?.[1];
    if (login) {
      response = await submitForm(jar, new URL(login, current), { csrf: csrfToken(html), email: person.email, password: person.password });
    } else if (confirm && abort) {
      options.onConsent?.(html);
      response = await submitForm(jar, new URL(options.consent === 'deny' ? abort : confirm, current), { csrf: csrfToken(html) });
    } else {
      return html;
    }
  }
  throw new Error('too many steps');
}

/** One poll of the token endpoint, as a device sends it. */
async function poll(clientId: string, deviceCode: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const fields = { grant_type: DEVICE_GRANT, device_code: deviceCode };
  const response =
    clientId === 'cli'
      ? await postAsClient(`${server.issuer}/token`, basicAuth('cli', server.declared.clientSecret('cli')), fields)
      : await fetch(`${server.issuer}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ ...fields, client_id: clientId }) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** A device authorization whose ten minutes have passed (the engine judges expiry by the payload's exp). */
async function expiredAuthorization(): Promise<oidc.DeviceAuthorizationResponse> {
  const authorization = await oidc.initiateDeviceAuthorization(tv, { scope: 'openid' });
  await server.database.pool.query(
    `UPDATE oidc_device_codes SET payload = jsonb_set(payload, '{exp}', to_jsonb(floor(extract(epoch from now()))::int - 1)) WHERE id = $1`,
    [hashTokenId(authorization.device_code)],
  );
  return authorization;
}

const typed = (userCode: string) => userCode.replace('-', '').toLowerCase();

describe('a code sent by someone else (RFC 8628 section 5.4)', () => {
  test('the confirmation says when, from which address and by which program the code was asked for', async () => {
    const authorization = await oidc.initiateDeviceAuthorization(tv, { scope: 'openid' });
    const page = await typeCode(new CookieJar(), typed(authorization.user_code));
    const html = await page.text();
    assert.equal(page.status, 200);
    assert.match(html, /Requested at [^<]+ from the network address (127\.0\.0\.1|::1|::ffff:127\.0\.0\.1), by: [^<]+/);
  });

  test("a first-party app's device still shows the consent page: whoever holds the device code gets the tokens", async () => {
    await server.services.clients.create({ clientId: 'own-tv', type: 'native', name: 'Our Own TV', firstParty: true, grantTypes: [DEVICE_GRANT, 'refresh_token'], scopes: ['openid', 'offline_access'] });
    const own = await oidc.discovery(new URL(server.issuer), 'own-tv', undefined, oidc.None(), insecure);
    const authorization = await oidc.initiateDeviceAuthorization(own, { scope: 'openid offline_access' });
    // Refusing on the consent page is only possible if it was shown: granted unasked, this would read "Device connected".
    const done = await approve(typed(authorization.user_code), { consent: 'deny' });
    assert.match(done, /Device not connected/);
    assert.equal((await poll('own-tv', authorization.device_code)).body.error, 'access_denied');
  });

  test('deleting a client ends its pending device codes: one registered later under the same id cannot redeem them', async () => {
    const input = { clientId: 'doomed-tv', type: 'native' as const, name: 'Doomed TV', grantTypes: [DEVICE_GRANT], scopes: ['openid'] };
    await server.services.clients.create(input);
    const doomed = await oidc.discovery(new URL(server.issuer), 'doomed-tv', undefined, oidc.None(), insecure);
    const authorization = await oidc.initiateDeviceAuthorization(doomed, { scope: 'openid' });
    await server.services.clients.delete('doomed-tv');
    const rows = await server.database.pool.query('SELECT 1 FROM oidc_device_codes WHERE id = $1', [hashTokenId(authorization.device_code)]);
    assert.equal(rows.rowCount, 0);
    await server.services.clients.create(input);
    const answer = await poll('doomed-tv', authorization.device_code);
    assert.equal(answer.status, 400);
    assert.equal(answer.body.error, 'invalid_grant');
  });
});

describe('revoking an approved device code before its device polls', () => {
  test('deletes the code with its grant: the poll is invalid_grant and no row is left', async () => {
    const authorization = await oidc.initiateDeviceAuthorization(tv, { scope: 'openid' });
    assert.match(await approve(typed(authorization.user_code)), /Device connected/);
    const id = hashTokenId(authorization.device_code);
    const { rows } = await server.database.pool.query<{ grant_id: string | null }>('SELECT grant_id FROM oidc_device_codes WHERE id = $1', [id]);
    assert.ok(rows[0]?.grant_id, 'an approved device code names its grant');
    await server.services.grants.revokeGrant(rows[0].grant_id);
    assert.equal((await server.database.pool.query('SELECT 1 FROM oidc_device_codes WHERE id = $1', [id])).rowCount, 0);
    assert.equal((await poll('tv-box', authorization.device_code)).body.error, 'invalid_grant');
  });
});

describe('the device flow, on', () => {
  test('discovery advertises the device authorization endpoint and the grant type', () => {
    const metadata = tv.serverMetadata();
    assert.equal(metadata.device_authorization_endpoint, `${server.issuer}/device/auth`);
    assert.ok(metadata.grant_types_supported?.includes(DEVICE_GRANT));
  });

  test('a device gets tokens once the person typed the code (lower case, no dash), signed in and consented', async () => {
    const started = audit.events.length;
    const authorization = await oidc.initiateDeviceAuthorization(tv, { scope: 'openid email' });
    assert.match(authorization.user_code, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    assert.equal(authorization.verification_uri, `${server.issuer}/device`);
    assert.ok(authorization.expires_in > 0 && authorization.expires_in <= 600);
    const polling = oidc.pollDeviceAuthorizationGrant(tv, authorization);
    const done = await approve(typed(authorization.user_code));
    assert.match(done, /Device connected/);
    const tokens = await polling;
    assert.ok(tokens.access_token);
    assert.equal(tokens.claims()?.sub, server.declared.accountId(person.email));
    assert.equal(tokens.claims()?.aud, 'tv-box');

    const types = audit.events.slice(started).map((event) => event.type);
    for (const type of ['device.authorization_requested', 'login.success', 'consent.granted', 'device.approved', 'token.issued'] as const) {
      assert.ok(types.includes(type), `${type} recorded (got ${types.join(', ')})`);
    }
    const approved = audit.events.slice(started).find((event) => event.type === 'device.approved');
    assert.equal(approved?.clientId, 'tv-box');
    assert.equal(approved?.accountId, server.declared.accountId(person.email));
    assert.ok(!JSON.stringify(audit.events.slice(started)).includes(authorization.device_code), 'no device code in the audit trail');
    assert.ok(!JSON.stringify(audit.events.slice(started)).includes(authorization.user_code), 'no user code in the audit trail');

    // Redeemed once (RFC 6749 4.1.2 by analogy; the engine revokes the grant on a replay).
    assert.equal((await fetch(tv.serverMetadata().userinfo_endpoint!, { headers: { authorization: `Bearer ${tokens.access_token}` } })).status, 200);
    const replay = await poll('tv-box', authorization.device_code);
    assert.equal(replay.status, 400);
    assert.equal(replay.body.error, 'invalid_grant');
    const userinfo = (token: string) => fetch(tv.serverMetadata().userinfo_endpoint!, { headers: { authorization: `Bearer ${token}` } });
    assert.equal((await userinfo(tokens.access_token)).status, 401, 'the replay ended what the first redemption issued');
  });

  test('the device code is stored only as its hash, and sealed, never in the clear, in its row or its interaction', async () => {
    const authorization = await oidc.initiateDeviceAuthorization(tv, { scope: 'openid' });
    const { rows } = await server.database.pool.query<{ id: string; user_code: string; sealed_code: string; payload: unknown }>(
      'SELECT id, user_code, sealed_code, payload FROM oidc_device_codes WHERE id = $1',
      [hashTokenId(authorization.device_code)],
    );
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.user_code, authorization.user_code.replace('-', ''));
    assert.equal(server.sealer.open(rows[0]!.sealed_code), authorization.device_code, 'the sealed copy opens, with MASTER_SECRET only, to the device code');
    assert.ok(!rows[0]!.sealed_code.includes(authorization.device_code));
    assert.ok(!JSON.stringify(rows[0]!.payload).includes(authorization.device_code));

    // The interaction the confirmation starts names the device code it resumes: sealed too.
    const jar = new CookieJar();
    const confirmation = await (await typeCode(jar, authorization.user_code)).text();
    const started = await submitForm(jar, new URL('/device', server.issuer), { xsrf: xsrfOf(confirmation), user_code: authorization.user_code, confirm: 'yes' });
    assert.match(started.headers.get('location') ?? '', /\/interaction\//);
    const interactions = await server.database.pool.query<{ payload: { sealedDeviceCode?: string } }>('SELECT payload FROM oidc_interactions');
    assert.ok(interactions.rows.some((row) => typeof row.payload.sealedDeviceCode === 'string'));
    assert.ok(interactions.rows.every((row) => !JSON.stringify(row.payload).includes(authorization.device_code)));
    // ...and is opened again when the person comes back: the device is still waiting.
    assert.equal((await poll('tv-box', authorization.device_code)).body.error, 'authorization_pending');
  });

  test('the consent page lists only the scopes the person can be granted (a role-bound one is left out), and the token carries those', async () => {
    const box = await oidc.discovery(new URL(server.issuer), 'tv-api-box', undefined, oidc.None(), insecure);
    const authorization = await oidc.initiateDeviceAuthorization(box, { scope: 'tv:watch tv:admin', resource: TV_API });
    let consent = '';
    await approve(authorization.user_code, { onConsent: (html) => (consent = html) });
    assert.match(consent, /Watch the channels|tv:watch/);
    assert.doesNotMatch(consent, /Change what the TV offers|tv:admin/, 'the person holds no staff role');
    const { status, body } = await poll('tv-api-box', authorization.device_code);
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.scope, 'tv:watch');
  });

  test('an early poll is authorization_pending, one sooner than the interval slow_down (RFC 8628 3.5)', async () => {
    const authorization = await oidc.initiateDeviceAuthorization(cli, { scope: 'openid' });
    const first = await poll('cli', authorization.device_code);
    assert.equal(first.status, 400);
    assert.equal(first.body.error, 'authorization_pending');
    const second = await poll('cli', authorization.device_code);
    assert.equal(second.status, 400);
    assert.equal(second.body.error, 'slow_down');
    // Concurrent polls of one code: at most one of them is pending.
    const burst = await Promise.all(Array.from({ length: 4 }, () => poll('cli', authorization.device_code)));
    assert.ok(burst.every((answer) => answer.status === 400 && answer.body.error === 'slow_down'), JSON.stringify(burst));
  });

  test('a device code polled by another client is refused, and stays good for its own client', async () => {
    const authorization = await oidc.initiateDeviceAuthorization(tv, { scope: 'openid' });
    const stolen = await poll('cli', authorization.device_code);
    assert.equal(stolen.status, 400);
    assert.equal(stolen.body.error, 'invalid_grant');
    const own = await poll('tv-box', authorization.device_code);
    assert.equal(own.body.error, 'authorization_pending');
  });

  test('cancelling at the confirmation answers the device access_denied, and is audited', async () => {
    const authorization = await oidc.initiateDeviceAuthorization(tv, { scope: 'openid' });
    const started = audit.events.length;
    const html = await approve(authorization.user_code, { answer: 'abort' });
    assert.match(html, /Device not connected/);
    const answer = await poll('tv-box', authorization.device_code);
    assert.equal(answer.status, 400);
    assert.equal(answer.body.error, 'access_denied');
    const denied = audit.events.slice(started).find((event) => event.type === 'device.denied');
    assert.equal(denied?.clientId, 'tv-box');
  });

  test('denying on the consent page answers the device access_denied (through openid-client)', async () => {
    const authorization = await oidc.initiateDeviceAuthorization(cli, { scope: 'openid' });
    const polling = oidc.pollDeviceAuthorizationGrant(cli, authorization);
    const html = await approve(authorization.user_code, { consent: 'deny' });
    assert.match(html, /Device not connected/);
    await assert.rejects(polling, (error: oidc.ResponseBodyError) => error.error === 'access_denied');
  });

  test('an expired device code is expired_token (its user code is refused below, with the wrong ones)', async () => {
    const authorization = await expiredAuthorization();
    const answer = await poll('tv-box', authorization.device_code);
    assert.equal(answer.status, 400);
    assert.equal(answer.body.error, 'expired_token');
  });

  test('starting a device authorization spends the token budget, typing a code the login budget', async () => {
    const start = await fetch(`${server.issuer}/device/auth`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'client_id=tv-box&scope=openid' });
    assert.equal(start.status, 200);
    assert.match(start.headers.get('ratelimit-policy') ?? '', /"token";q=600;w=60/);
    const typedCode = await typeCode(new CookieJar(), (await start.json() as { user_code: string }).user_code);
    assert.equal(typedCode.status, 200);
    assert.match(typedCode.headers.get('ratelimit-policy') ?? '', /"login";q=60;w=60/);
  });

  test('a client not registered for the grant is unauthorized_client', async () => {
    const response = await postAsClient(`${server.issuer}/device/auth`, basicAuth('web', server.declared.clientSecret('web')), { scope: 'openid' });
    assert.equal(response.status, 400);
    assert.equal(((await response.json()) as { error: string }).error, 'unauthorized_client');
  });

  test('an unknown or malformed device code is invalid_grant, never a 5xx', async () => {
    for (const deviceCode of ['nope', 'x'.repeat(2000), '\u0000']) {
      const answer = await poll('tv-box', deviceCode);
      assert.equal(answer.status, 400, deviceCode.slice(0, 10));
      assert.equal(answer.body.error, 'invalid_grant');
    }
  });

  test('the /device page is hardened: CSP nonce, no framing, labelled field', async () => {
    const response = await send(new CookieJar(), new URL('/device', server.issuer), { headers: { accept: 'text/html' } });
    const html = await response.text();
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
    assert.match(response.headers.get('content-security-policy') ?? '', /script-src 'self' 'nonce-/);
    assert.equal(response.headers.get('x-frame-options'), 'DENY');
    assert.match(html, /<label for="user_code">/);
    assert.match(html, /<html lang="en">/);
    assert.doesNotMatch(html, /onfocus=|<script>/, 'no inline handlers or scripts');
  });

  test('a form without the xsrf token of its session is refused, no code looked up', async () => {
    const response = await submitForm(new CookieJar(), new URL('/device', server.issuer), { xsrf: 'forged', user_code: 'BCDFGHJK' });
    assert.equal(response.status, 400);
    assert.match(await response.text(), /Something went wrong/);
  });

  test('malformed forms to /device are 4xx or the form again, never a 5xx, and are not counted as wrong codes', async () => {
    const device = new URL('/device', server.issuer);
    const jar = new CookieJar();
    const xsrf = xsrfOf(await (await send(jar, device, { headers: { accept: 'text/html' } })).text());
    const bodies = [
      `xsrf=${xsrf}&user_code=BCDF&user_code=GHJK`,
      `xsrf=${xsrf}`,
      `xsrf=${xsrf}&user_code=`,
      'user_code=BCDFGHJK',
      `xsrf=${xsrf}&xsrf=${xsrf}&user_code=BCDFGHJK`,
      '%%%',
    ];
    for (const body of bodies) {
      const response = await send(jar, device, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' }, body });
      assert.ok(response.status < 500, `${body.slice(0, 40)}: ${response.status}`);
      // A page after an error has a fresh token for the next try.
      const html = await response.text();
      const next = /name="xsrf" value="([^"]+)"/.exec(html)?.[1];
      if (next) bodies.forEach((_, i) => (bodies[i] = bodies[i]!.replaceAll(xsrf, next)));
    }
    const json = await send(jar, device, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"user_code":"BCDFGHJK"}' });
    assert.equal(json.status, 415);
    assert.equal(audit.events.filter((event) => event.type === 'device.code_wrong').length, 0);
  });

  test('a verification_uri_complete link fills in its code for the person to check, and posts nothing: links from any page spend no allowance', async () => {
    const started = audit.events.length;
    const jar = new CookieJar();
    // Enough wrong links to block the address five times over, were they typed codes.
    for (let attempt = 0; attempt < 25; attempt++) {
      const page = await send(jar, new URL(`/device?user_code=ZZZZ-ZZ${attempt}`, server.issuer), { headers: { accept: 'text/html' } });
      assert.equal(page.status, 200);
      const html = await page.text();
      assert.ok(!/<form[^>]*>[\s\S]*<script/.test(html) && !html.includes('onload'), 'no form that submits itself');
      assert.match(html, new RegExp(`name="user_code"[^>]*value="ZZZZ-ZZ${attempt}"`), 'the code filled in');
      assert.match(html, /Check that this is the code shown on your device/);
    }
    const odd = await send(jar, new URL('/device?user_code=%3Cb%3E"x', server.issuer), { headers: { accept: 'text/html' } });
    assert.match(await odd.text(), /name="user_code"[^>]*value=""/, 'what is no code is not shown');
    assert.equal(audit.events.slice(started).filter((event) => event.type === 'device.code_wrong').length, 0);

    // The device's own link: filled in, checked by the person, submitted, confirmed.
    const authorization = await oidc.initiateDeviceAuthorization(tv, { scope: 'openid' });
    assert.ok(authorization.verification_uri_complete, 'the engine sends the complete link');
    const linked = await send(jar, new URL(authorization.verification_uri_complete), { headers: { accept: 'text/html' } });
    const html = await linked.text();
    const filled = new RegExp('name="user_code"[^>]*value="([^"]+)"').exec(html)?.[1];
    assert.equal(filled, authorization.user_code);
    const confirmation = await submitForm(jar, new URL('/device', server.issuer), { xsrf: xsrfOf(html), user_code: filled });
    assert.equal(confirmation.status, 200);
    assert.match(await confirmation.text(), /Living Room TV/);
  });

  // Last: it spends this address's count of wrong codes.
  test('wrong user codes are audited, and after 5 from one address the next is a 429 page', async () => {
    const started = audit.events.length;
    const jar = new CookieJar();
    const expired = (await expiredAuthorization()).user_code;
    for (let attempt = 0; attempt < 5; attempt++) {
      // Expired, absurdly long, with a NUL byte, or simply unknown: each reads (and counts) the same.
      const code = [expired, 'Z'.repeat(5000), 'zzzz\u0000zzzz', 'zzzz-zzzz', 'zzzz zzzz'][attempt]!;
      const response = await typeCode(jar, code);
      assert.equal(response.status, 200, `wrong code ${attempt + 1} is answered with the form`);
      const html = await response.text();
      assert.match(html, /That code is not valid/);
      assert.match(html, /aria-invalid="true"/);
      assert.match(html, /aria-describedby="user-code-hint device-error"/);
    }
    const refused = await typeCode(jar, 'zzzz-zzzz');
    assert.equal(refused.status, 429);
    assert.ok(Number(refused.headers.get('retry-after')) >= 1);
    assert.match(refused.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
    assert.match(await refused.text(), /Too many wrong codes/);
    const wrong = audit.events.slice(started).filter((event) => event.type === 'device.code_wrong');
    assert.equal(wrong.length, 5);
    assert.ok(wrong.every((event) => event.ip && !JSON.stringify(event).includes('ZZZZ')));
    // Even the right code waits now: the address is held, whatever it types.
    const authorization = await oidc.initiateDeviceAuthorization(tv, { scope: 'openid' });
    assert.equal((await typeCode(jar, authorization.user_code)).status, 429);
  });
});

describe('the device flow, off (the default)', () => {
  let off: TestServer;
  before(async () => {
    off = await startTestServer({ LOG_LEVEL: 'warn' }, {
      declare: { clients: [{ clientId: 'tv-box', type: 'native', name: 'TV', grantTypes: [DEVICE_GRANT], scopes: ['openid'] }] },
    });
  });
  after(async () => {
    await off?.close();
  });

  test('discovery advertises neither the endpoint nor the grant, and neither the endpoint nor the page answers', async () => {
    const metadata = (await (await fetch(`${off.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    assert.equal(metadata.device_authorization_endpoint, undefined);
    assert.ok(!(metadata.grant_types_supported as string[]).includes(DEVICE_GRANT));
    const start = await fetch(`${off.issuer}/device/auth`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'client_id=tv-box&scope=openid' });
    assert.equal(start.status, 404);
    const page = await fetch(`${off.issuer}/device`, { headers: { accept: 'text/html' } });
    assert.equal(page.status, 404);
    const token = await fetch(`${off.issuer}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `client_id=tv-box&grant_type=${encodeURIComponent(DEVICE_GRANT)}&device_code=x` });
    assert.equal(token.status, 400);
    assert.equal(((await token.json()) as { error: string }).error, 'unsupported_grant_type');
  });
});
