import assert from 'node:assert/strict';
import { test } from 'node:test';

import Koa from 'koa';
import inject from 'light-my-request';

import type { AccountRecord } from '../../src/accounts/index.ts';
import { createPageSessions, PAGE_SESSION_MAX_AGE_MS } from '../../src/account-page/index.ts';
import type { GrantSummary } from '../../src/oidc/index.ts';

// The account page's session cookie on its own: written, then read back only while its
// grant is the account's and the page client's, the account enabled, and the cookie younger
// than an hour. The grants and accounts are in-memory stand-ins (the flow tests use real ones).

const CLIENT = 'portcullis-account';
const account: AccountRecord = { id: '0b6f1b1e-1111-4111-8111-111111111111', email: 'ann@example.com', emailVerified: true, name: 'Ann', passwordHash: null, disabled: false, roles: [], createdAt: new Date(), updatedAt: new Date() };
const grant = (overrides: Partial<GrantSummary> = {}): GrantSummary => ({ id: 'grant-1', clientId: CLIENT, accountId: account.id, scopes: ['openid'], resources: {}, createdAt: new Date(), expiresAt: null, ...overrides });

function harness(options: { grant?: GrantSummary | undefined; account?: AccountRecord | undefined }) {
  let now = Date.parse('2026-12-06T12:00:00Z');
  const sessions = createPageSessions({
    cookie: { name: 'portcullis.account', path: '/account' },
    clientId: CLIENT,
    accounts: { findById: (id) => Promise.resolve(id === options.account?.id ? options.account : undefined) },
    grants: { find: (id) => Promise.resolve(id === options.grant?.id ? options.grant : undefined) },
    now: () => now,
  });
  const app = new Koa({ keys: ['a test cookie key of enough length'] });
  app.use(async (ctx) => {
    if (ctx.path === '/account/write') {
      sessions.write(ctx, { sub: account.id, grantId: 'grant-1' });
      ctx.body = 'written';
      return;
    }
    const found = await sessions.read(ctx);
    ctx.body = found ? `${found.account.id} ${found.grantId}` : 'none';
  });
  const callback = app.callback();
  const dispatch = (request: Parameters<typeof callback>[0], response: Parameters<typeof callback>[1]) => {
    void callback(request, response);
  };
  return {
    advance: (ms: number) => (now += ms),
    async cookie(): Promise<string> {
      const response = await inject(dispatch, { url: '/account/write' });
      return response.cookies.map((cookie) => `${cookie.name}=${cookie.value}`).join('; ');
    },
    async read(cookie: string): Promise<string> {
      return (await inject(dispatch, { url: '/account', headers: { cookie } })).payload;
    },
  };
}

test('a written session reads back while its grant and account are live', async () => {
  const page = harness({ grant: grant(), account });
  assert.equal(await page.read(await page.cookie()), `${account.id} grant-1`);
});

test('an hour after the sign-in, the session is gone', async () => {
  const page = harness({ grant: grant(), account });
  const cookie = await page.cookie();
  page.advance(PAGE_SESSION_MAX_AGE_MS - 1000);
  assert.notEqual(await page.read(cookie), 'none');
  page.advance(2000);
  assert.equal(await page.read(cookie), 'none');
});

test('no session for a grant that ended, of another client or another account, or a disabled account', async () => {
  for (const [name, options] of [
    ['grant ended', { grant: undefined, account }],
    ['another client', { grant: grant({ clientId: 'some-app' }), account }],
    ['another account', { grant: grant({ accountId: 'someone-else' }), account }],
    ['disabled', { grant: grant(), account: { ...account, disabled: true } }],
    ['deleted', { grant: grant(), account: undefined }],
  ] as const) {
    const page = harness(options);
    assert.equal(await page.read(await page.cookie()), 'none', name);
  }
});

test('a cookie changed by hand, unsigned or malformed is no session', async () => {
  const page = harness({ grant: grant(), account });
  const cookie = await page.cookie();
  const value = /portcullis\.account=([^;]+)/.exec(cookie)![1]!;
  const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(value, 'base64url').toString()), iat: Math.floor(Date.now() / 1000) + 10_000 })).toString('base64url');
  assert.equal(await page.read(cookie.replace(value, forged)), 'none', 'signature no longer matches');
  assert.equal(await page.read(`portcullis.account=${value}`), 'none', 'no signature');
  assert.equal(await page.read('portcullis.account=%%%; portcullis.account.sig=x'), 'none');
});
