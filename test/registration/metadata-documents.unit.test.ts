import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { settingsView, settingsViewSchema } from '../../src/admin-api/settings-view.ts';
import { loadConfig } from '../../src/config/index.ts';
import { guardedLookup, isPublicAddress } from '../../src/oidc/metadata-documents/address-guard.ts';
import { cacheLifetimeMs, MAX_CACHE_SECONDS, MIN_CACHE_SECONDS } from '../../src/oidc/metadata-documents/cache-lifetime.ts';
import { clientIdUrlProblem } from '../../src/oidc/metadata-documents/client-id-url.ts';
import { toDocumentClient } from '../../src/oidc/metadata-documents/document-client.ts';
import { createFetchBudget, requesterKey } from '../../src/oidc/metadata-documents/fetch-budget.ts';
import type { DocumentFetcher } from '../../src/oidc/metadata-documents/fetch-document.ts';
import { createMetadataDocuments, STALE_SECONDS } from '../../src/oidc/metadata-documents/metadata-documents.ts';
import type { AuditEvent } from '../../src/audit/index.ts';
import type { ResourceService } from '../../src/clients/index.ts';
import { configRefusal, PRODUCTION_ENV } from '../helpers/config-refusal.ts';

// The pure parts of Client ID Metadata Documents: the SSRF guard's decision, the draft's
// URL rules, the cache lifetime from a document's headers, the fetch budget, the document's
// validation, and the settings. The flows are in metadata-documents.flow.test.ts.

describe('the SSRF guard', () => {
  test('refuses every address that is not public unicast', () => {
    for (const address of [
      '127.0.0.1',
      '127.1.2.3',
      '10.0.0.1',
      '172.16.5.4',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '224.0.0.1',
      '255.255.255.255',
      '::1',
      '::',
      'fe80::1',
      'fc00::1',
      'fd12:3456::1',
      'ff02::1',
      '::ffff:127.0.0.1',
      '::ffff:10.0.0.1',
      '::ffff:169.254.169.254',
      '[::ffff:7f00:1]',
      '64:ff9b::a00:1',
      '2001:db8::1',
      '2002:a00:1::1',
      '::a9fe:a9fe',
      '::7f00:1',
      '::a00:1',
      '100::1',
      'not-an-address',
      '',
    ]) {
      assert.equal(isPublicAddress(address), false, address);
    }
  });

  test('allows public unicast addresses, IPv4-mapped ones included', () => {
    for (const address of ['8.8.8.8', '93.184.216.34', '2606:4700:4700::1111', '::ffff:8.8.8.8']) assert.equal(isPublicAddress(address), true, address);
  });

  test("refuses a name that resolves to loopback in the connection's own look-up, unless private hosts are allowed", async () => {
    const resolve = (allowPrivate: boolean) =>
      new Promise<{ error: NodeJS.ErrnoException | null; address: unknown }>((done) => {
        guardedLookup(allowPrivate)('localhost', {}, (error, address) => done({ error, address }));
      });
    const refused = await resolve(false);
    assert.match(refused.error?.message ?? '', /localhost resolves to .* which is not a public address/);
    const allowed = await resolve(true);
    assert.equal(allowed.error, null);
    assert.match(String(allowed.address), /^(127\.0\.0\.1|::1)$/);
  });
});

describe("the draft's client_id URLs", () => {
  const strict = { allowLoopbackHttp: false };
  test('an https URL with a path is one', () => {
    for (const url of ['https://app.example.com/client.json', 'https://app.example.com:8443/oauth/client', 'https://app.example.com/client?v=1']) assert.equal(clientIdUrlProblem(url, strict), undefined, url);
  });

  test('anything else is refused, judged on the string as sent', () => {
    for (const [url, reason] of [
      ['http://app.example.com/client.json', /https/],
      ['https://app.example.com', /path/],
      ['https://app.example.com/', /path/],
      ['https://app.example.com/client.json#x', /fragment/],
      ['https://app.example.com/client.json#', /fragment/],
      ['https://user@app.example.com/client.json', /user name/],
      ['https://user:pw@app.example.com/client.json', /user name/],
      ['https://app.example.com/a/../client.json', /segments/],
      ['https://app.example.com/./client.json', /segments/],
      ['https://app.example.com/a/%2E%2e/client.json', /segments/],
      ['https://app.example.com/a b', /spaces/],
      ['https://app.example.com\\@evil.example/x', /backslash/],
      [`https://app.example.com/${'a'.repeat(2000)}`, /at most/],
    ] as const) {
      assert.match(clientIdUrlProblem(url, strict) ?? 'accepted', reason, url);
    }
  });

  test('http only on loopback hosts, and only when private hosts are allowed', () => {
    assert.equal(clientIdUrlProblem('http://127.0.0.1:8080/client.json', { allowLoopbackHttp: true }), undefined);
    assert.equal(clientIdUrlProblem('http://localhost:8080/client.json', { allowLoopbackHttp: true }), undefined);
    assert.match(clientIdUrlProblem('http://127.0.0.1:8080/client.json', strict) ?? '', /https/);
    assert.match(clientIdUrlProblem('http://app.example.com/client.json', { allowLoopbackHttp: true }) ?? '', /https/);
  });
});

describe('how long a document is kept', () => {
  const url = 'https://app.example.com/client.json';
  const lifetime = (headers: Record<string, string>) => cacheLifetimeMs(url, 200, { date: new Date().toUTCString(), ...headers });
  // Within a second: the age is counted from the Date header to now, which moves.
  const about = (actual: number, seconds: number) => assert.ok(Math.abs(actual - seconds * 1000) < 1000, `${actual} ms, not about ${seconds} s`);
  test('its max-age, between the floor and the ceiling', () => {
    about(lifetime({ 'cache-control': 'max-age=3600' }), 3600);
    assert.equal(lifetime({ 'cache-control': 'max-age=5' }), MIN_CACHE_SECONDS * 1000);
    assert.equal(lifetime({ 'cache-control': 'max-age=99999999' }), MAX_CACHE_SECONDS * 1000);
    assert.equal(lifetime({}), MIN_CACHE_SECONDS * 1000);
    about(lifetime({ 'cache-control': 'private, max-age=600' }), 600);
  });

  test('no-store: the floor too, as the engine keeps such a document', () => {
    assert.equal(lifetime({ 'cache-control': 'no-store' }), MIN_CACHE_SECONDS * 1000);
    assert.equal(lifetime({ 'cache-control': 'no-store, max-age=600' }), MIN_CACHE_SECONDS * 1000);
  });

  test('a header sent twice is read as one list; headers that cannot be read are the floor, never an error', () => {
    const twice = cacheLifetimeMs(url, 200, { date: new Date().toUTCString(), 'cache-control': ['public', 'max-age=600'] });
    about(twice, 600);
    assert.equal(cacheLifetimeMs(url, 200, { 'cache-control': ['no-store', 'no-cache'], expires: ['a', 'b'] }), MIN_CACHE_SECONDS * 1000);
    assert.equal(cacheLifetimeMs(url, 200, { date: ['x', 'y'], age: ['1', '2'], vary: ['a', 'b'], pragma: ['x', 'y'], 'last-modified': ['x', 'y'] }), MIN_CACHE_SECONDS * 1000);
  });
});

describe('the fetch budget', () => {
  test('ten fetches a minute per host, a hundred in all, then again the next minute', () => {
    let now = 0;
    const budget = createFetchBudget({}, () => now);
    for (let index = 0; index < 10; index++) assert.equal(budget.take('a.example', `192.0.2.${index}`), undefined);
    assert.equal(budget.take('a.example', '192.0.2.99'), 'host');
    assert.equal(budget.take('b.example', '192.0.2.99'), undefined);
    now += 60_000;
    assert.equal(budget.take('a.example', '192.0.2.99'), undefined);
    const all = createFetchBudget({ perHost: 1000, inAll: 3 }, () => now);
    assert.equal(all.take('a', '1'), undefined);
    assert.equal(all.take('b', '2'), undefined);
    assert.equal(all.take('c', '3'), undefined);
    assert.equal(all.take('d', '4'), 'all');
  });

  test('one requester spends at most 5 of a host and 20 in all, and what it is refused counts nowhere else', () => {
    const budget = createFetchBudget({}, () => 0);
    for (let index = 0; index < 5; index++) assert.equal(budget.take('victim.example', 'attacker'), undefined);
    for (let index = 0; index < 50; index++) assert.equal(budget.take('victim.example', 'attacker'), 'requester');
    // The host still has half its minute for everyone else.
    for (let index = 0; index < 5; index++) assert.equal(budget.take('victim.example', `person ${index}`), undefined);
    const spread = createFetchBudget({}, () => 0);
    for (let index = 0; index < 20; index++) assert.equal(spread.take(`host${index}.example`, 'attacker'), undefined);
    for (let index = 0; index < 200; index++) assert.equal(spread.take(`other${index}.example`, 'attacker'), 'requester');
    // 80 of the hundred are left for the others.
    for (let index = 0; index < 80; index++) assert.equal(spread.take(`legit${index}.example`, `person ${index}`), undefined);
    assert.equal(spread.take('legit.example', 'person'), 'all');
  });

  test('an IPv6 requester is its /64: the addresses of one machine share one budget', () => {
    const budget = createFetchBudget({}, () => 0);
    for (let index = 0; index < 5; index++) assert.equal(budget.take('victim.example', `2001:db8:1:2::${index + 1}`), undefined);
    assert.equal(budget.take('victim.example', '2001:db8:1:2:ffff::9'), 'requester');
    assert.equal(budget.take('victim.example', '2001:db8:1:3::1'), undefined, 'another /64 is another requester');
    assert.equal(requesterKey('::ffff:192.0.2.7'), '192.0.2.7');
    assert.equal(requesterKey('192.0.2.7'), '192.0.2.7');
  });

  test('a look-up with no requester (the interaction pages) spends only the host and the whole budget', () => {
    const budget = createFetchBudget({}, () => 0);
    for (let index = 0; index < 10; index++) assert.equal(budget.take('a.example', undefined), undefined);
    assert.equal(budget.take('a.example', undefined), 'host');
    assert.equal(budget.take('b.example', '192.0.2.1'), undefined, 'no requester budget was spent for them');
  });
});

describe('resolving a document', () => {
  const url = 'https://agent.example.com/client.json';
  const policy = loadConfig({ CLIENT_REGISTRATION_REDIRECT_HOSTS: 'agent.example.com' }).clientRegistration.policy;
  const body = Buffer.from(JSON.stringify({ client_id: url, client_name: 'Agent', redirect_uris: ['https://agent.example.com/callback'], scope: 'openid' }));
  const described = (reason: RegExp) => (error: { error?: string; error_description?: string }) => error.error === 'invalid_client' && reason.test(error.error_description ?? '');
  const setup = (fetcher: DocumentFetcher, budget = createFetchBudget()) => {
    const events: AuditEvent[] = [];
    let now = 1_000_000;
    const documents = createMetadataDocuments({
      allowPrivateHosts: false,
      policy,
      resources: { find: () => Promise.resolve(undefined) } as unknown as ResourceService,
      audit: { record: (event: AuditEvent) => events.push(event) },
      fetcher,
      budget,
      now: () => now,
    });
    return { documents, events, advance: (ms: number) => (now += ms) };
  };

  test('when a shared budget refuses, an expired copy of a document that worked stands in, for a while only', async () => {
    let fetches = 0;
    const refusing = { take: () => (fetches === 0 ? undefined : ('host' as const)) };
    const { documents, advance } = setup(() => (fetches++, Promise.resolve({ ok: true, status: 200, headers: { 'cache-control': 'max-age=60' }, body })), refusing);
    assert.equal((await documents.resolve(url, { ip: '192.0.2.1' })).clientId, url);
    advance(60_000 + STALE_SECONDS * 1000 - 1000);
    assert.equal((await documents.resolve(url, { ip: '192.0.2.1' })).clientId, url, 'the stale copy');
    assert.equal(fetches, 1);
    // Past STALE_SECONDS a withdrawn or changed document cannot be kept alive by exhausting the budgets.
    advance(2000);
    await assert.rejects(documents.resolve(url, { ip: '192.0.2.1' }), described(/too many client metadata documents fetched from agent\.example\.com/));
  });

  test('the budget counts a host by its name alone: a port or a trailing dot is the same host', async () => {
    const hosts: string[] = [];
    const { documents } = setup(() => Promise.resolve({ ok: false, reason: 'not found' }), { take: (host) => (hosts.push(host), undefined) });
    for (const other of ['https://agent.example.com:8443/a.json', 'https://agent.example.com./b.json', 'https://AGENT.example.com/c.json']) {
      await assert.rejects(documents.resolve(other, { ip: '192.0.2.1' }));
    }
    assert.deepEqual(hosts, ['agent.example.com', 'agent.example.com', 'agent.example.com']);
  });

  test('a requester refused by their own budget gets no stale copy', async () => {
    let fetches = 0;
    const refusing = { take: () => (fetches === 0 ? undefined : ('requester' as const)) };
    const { documents, advance } = setup(() => (fetches++, Promise.resolve({ ok: true, status: 200, headers: { 'cache-control': 'max-age=60' }, body })), refusing);
    assert.equal((await documents.resolve(url, { ip: '192.0.2.1' })).clientId, url);
    advance(61_000);
    await assert.rejects(documents.resolve(url, { ip: '192.0.2.1' }), described(/at the request of your address/));
    assert.equal(fetches, 1);
  });

  test('an address literal outside the guard is refused before any budget is spent', async () => {
    let taken = 0;
    const { documents, events } = setup(() => assert.fail('nothing is fetched'), { take: () => (taken++, undefined) });
    for (let index = 1; index <= 120; index++) await assert.rejects(documents.resolve(`https://10.0.0.${index}/client.json`, { ip: '192.0.2.1' }), described(/does not resolve to a public address/));
    assert.equal(taken, 0);
    assert.match(String(events[0]?.data?.detail), /10\.0\.0\.1 is not a public address/);
  });

  test('whatever throws in resolving is a remembered, audited refusal', async () => {
    let fetches = 0;
    const { documents, events } = setup(() => {
      fetches++;
      return Promise.reject(new TypeError('nobody foresaw this'));
    });
    await assert.rejects(documents.resolve(url, { ip: '192.0.2.1' }), described(/could not be resolved/));
    await assert.rejects(documents.resolve(url, { ip: '192.0.2.1' }), described(/could not be resolved/));
    assert.equal(fetches, 1);
    assert.equal(events[0]?.type, 'client.metadata_document_refused');
    assert.match(String(events[0]?.data?.detail), /nobody foresaw/);
  });

  test('the registry unreachable is its own error (the outage\'s 503), not a refusal remembered for everyone', async () => {
    const outage = new Error('connect ECONNREFUSED 127.0.0.1:5432');
    let down = true;
    let fetches = 0;
    const events: AuditEvent[] = [];
    const documents = createMetadataDocuments({
      allowPrivateHosts: false,
      policy: loadConfig({ CLIENT_REGISTRATION_REDIRECT_HOSTS: 'agent.example.com', CLIENT_REGISTRATION_RESOURCES: 'https://api.example.com' }).clientRegistration.policy,
      resources: { find: () => (down ? Promise.reject(outage) : Promise.resolve(undefined)) } as unknown as ResourceService,
      audit: { record: (event: AuditEvent) => events.push(event) },
      fetcher: () => (fetches++, Promise.resolve({ ok: true, status: 200, headers: {}, body })),
    });
    await assert.rejects(documents.resolve(url, { ip: '192.0.2.1' }), (error) => error === outage);
    assert.equal(events.length, 0, 'nothing refused, nothing audited');
    down = false;
    assert.equal((await documents.resolve(url, { ip: '192.0.2.1' })).clientId, url, 'once it is back the client resolves at once');
    assert.equal(fetches, 1);
  });
});

describe("a document's validation", () => {
  const url = 'https://agent.example.com/client.json';
  const policy = loadConfig({ CLIENT_REGISTRATION_REDIRECT_HOSTS: 'agent.example.com' }).clientRegistration.policy;
  const document = { client_id: url, client_name: 'Agent', redirect_uris: ['https://agent.example.com/callback'], token_endpoint_auth_method: 'none', scope: 'openid' };
  const validate = (body: unknown, offered = new Map<string, string[]>()) => toDocumentClient(url, Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), policy, offered);

  test('a public client by its document: a third party, not first party, without logo', () => {
    const result = validate({ ...document, logo_uri: 'https://agent.example.com/logo.png' });
    assert.ok(result.ok, result.ok ? '' : result.reason);
    assert.equal(result.client.clientId, url);
    assert.equal(result.client.type, 'spa');
    assert.equal(result.client.authMethod, 'none');
    assert.equal(result.client.firstParty, false);
    assert.equal(result.client.logoUri, null);
    assert.equal(result.client.secretCiphertext, null);
  });

  test('without token_endpoint_auth_method it is a public client', () => {
    const { token_endpoint_auth_method: _method, ...rest } = document;
    const result = validate(rest);
    assert.ok(result.ok);
    assert.equal(result.client.authMethod, 'none');
  });

  test('refusals name what is wrong', () => {
    for (const [body, reason] of [
      ['not json', /not valid JSON/],
      ['[1]', /not a JSON object/],
      [{ ...document, client_id: 'https://agent.example.com/other.json' }, /not the URL/],
      [{ ...document, client_secret: 'x' }, /client_secret is not allowed/],
      [{ ...document, client_secret_expires_at: 0 }, /client_secret_expires_at is not allowed/],
      [{ ...document, token_endpoint_auth_method: 'client_secret_post' }, /client_secret_post is not allowed/],
      [{ ...document, token_endpoint_auth_method: 'client_secret_jwt' }, /client_secret_jwt is not allowed/],
      [{ ...document, portcullis_first_party: true }, /portcullis_first_party is not allowed/],
      [{ ...document, portcullis_anything: 1 }, /portcullis_anything is not allowed/],
      [{ ...document, backchannel_logout_uri: 'https://169.254.169.254/' }, /backchannel_logout_uri is not allowed/],
      [{ ...document, grant_types: ['client_credentials'] }, /client_credentials is not allowed/],
      [{ ...document, grant_types: ['urn:ietf:params:oauth:grant-type:device_code'] }, /device_code is not allowed/],
      [{ ...document, redirect_uris: ['https://evil.example.net/callback'] }, /evil\.example\.net is not allowed/],
      [{ ...document, redirect_uris: ['https://good@agent.example.com/callback'] }, /user name/],
      [{ ...document, scope: 'openid admin:write' }, /admin:write is not allowed/],
      [{ ...document, jwks: { keys: [] } }, /only a private_key_jwt client has keys/],
      [{ ...document, token_endpoint_auth_method: 'private_key_jwt' }, /in the document \(jwks\)/],
      [{ ...document, token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'https://agent.example.com/jwks.json' }, /jwks_uri is not allowed/],
      [{ ...document, jwks_uri: 'http://169.254.169.254/latest/meta-data/' }, /jwks_uri is not allowed/],
      [{ ...document, request_uris: ['https://agent.example.com/r'] }, /request_uris is not allowed/],
      [{ ...document, sector_identifier_uri: 'https://agent.example.com/s' }, /sector_identifier_uri is not allowed/],
      [{ ...document, client_name: 'adm\u202Enimda' }, /invisible or text-direction/],
      [{ ...document, redirect_uris: 'https://agent.example.com/callback' }, /redirect_uris/],
    ] as const) {
      const result = validate(body);
      assert.equal(result.ok, false, JSON.stringify(body));
      if (!result.ok) assert.match(result.reason, reason, JSON.stringify(body));
    }
  });

  test('attacker-chosen text is echoed short', () => {
    for (const body of [{ ...document, [`portcullis_${'x'.repeat(5000)}`]: 1 }, { ...document, grant_types: ['g'.repeat(5000)] }, { ...document, token_endpoint_auth_method: 'm'.repeat(5000) }, { ...document, redirect_uris: [`https://${'e'.repeat(1900)}.example/cb`] }]) {
      const result = validate(body);
      assert.equal(result.ok, false);
      if (!result.ok) assert.ok(result.reason.length <= 301, `${result.reason.length} characters`);
    }
  });

  test('a public client is refused where the policy allows none', () => {
    const confidentialOnly = loadConfig({ CLIENT_REGISTRATION_AUTH_METHODS: 'client_secret_basic' }).clientRegistration.policy;
    const result = toDocumentClient(url, Buffer.from(JSON.stringify(document)), confidentialOnly, new Map());
    assert.equal(result.ok, false);
  });
});

describe('the settings', () => {
  test('off by default; on, and private hosts, only when said', () => {
    assert.deepEqual(loadConfig({}).clientIdMetadataDocuments, { enabled: false, allowPrivateHosts: false });
    assert.deepEqual(loadConfig({ CLIENT_ID_METADATA_DOCUMENTS: 'on', CLIENT_ID_METADATA_ALLOW_PRIVATE_HOSTS: 'true' }).clientIdMetadataDocuments, { enabled: true, allowPrivateHosts: true });
    assert.match(configRefusal({ CLIENT_ID_METADATA_DOCUMENTS: 'yes' }), /CLIENT_ID_METADATA_DOCUMENTS/);
    assert.match(configRefusal({ CLIENT_ID_METADATA_ALLOW_PRIVATE_HOSTS: 'maybe' }), /CLIENT_ID_METADATA_ALLOW_PRIVATE_HOSTS/);
  });

  test("the admin API's settings say whether documents are on, and from private hosts", () => {
    const view = settingsView(loadConfig({ CLIENT_ID_METADATA_DOCUMENTS: 'on' }));
    assert.doesNotThrow(() => settingsViewSchema.parse(view));
    assert.deepEqual(view.clientIdMetadataDocuments, { enabled: true, allowPrivateHosts: false });
  });

  test('in production, on needs the redirect hosts named, and private hosts are refused', () => {
    assert.match(configRefusal({ ...PRODUCTION_ENV, CLIENT_ID_METADATA_DOCUMENTS: 'on' }), /CLIENT_ID_METADATA_DOCUMENTS: on needs an explicit policy/);
    assert.equal(loadConfig({ ...PRODUCTION_ENV, CLIENT_ID_METADATA_DOCUMENTS: 'on', CLIENT_REGISTRATION_REDIRECT_HOSTS: 'app.example.com' }).clientIdMetadataDocuments.enabled, true);
    assert.match(configRefusal({ ...PRODUCTION_ENV, CLIENT_ID_METADATA_DOCUMENTS: 'on', CLIENT_REGISTRATION_REDIRECT_HOSTS: 'app.example.com', CLIENT_ID_METADATA_ALLOW_PRIVATE_HOSTS: 'true' }), /CLIENT_ID_METADATA_ALLOW_PRIVATE_HOSTS: is for development/);
  });
});
