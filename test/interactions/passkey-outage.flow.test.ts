import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { csrfToken, submitForm } from '../helpers/browserless-login.ts';
import { startCuttableProxy, type CuttableProxy } from '../helpers/cuttable-proxy.ts';
import { requestOptions } from '../helpers/passkey-pages.ts';
import { declaration, formAction, PASSWORD, post, start } from '../helpers/second-factor-pages.ts';
import { SoftAuthenticator } from '../helpers/soft-authenticator.ts';
import { TEST_ENGINE } from '../helpers/test-database.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// The database gone while a person answers the second-factor page with a passkey: the answer
// is a 503 (the outage's answer), not a wrong passkey; nothing of it is spent or counted, so
// the same answer works once the database is back. Postgres only (a TCP proxy is cut).

const POSTGRES_ONLY = TEST_ENGINE === 'embedded' && 'the embedded database runs in this process: there is no network to cut';

let server: TestServer;
let proxy: CuttableProxy;

before(async () => {
  if (POSTGRES_ONLY) return;
  const target = { host: '127.0.0.1', port: 5432 };
  proxy = await startCuttableProxy(target);
  server = await startTestServer(
    {},
    {
      declare: declaration,
      issuerHost: 'localhost',
      databaseUrl(url) {
        const parsed = new URL(url);
        target.host = parsed.hostname;
        target.port = Number(parsed.port || 5432);
        parsed.port = String(proxy.port);
        return parsed.toString();
      },
    },
  );
});

after(async () => {
  await proxy?.restore();
  await server?.close();
  await proxy?.stop();
});

test('a passkey answered while the database is gone is a 503, not a refusal, and works once it is back', { skip: POSTGRES_ONLY }, async () => {
  const device = new SoftAuthenticator({ origin: new URL(server.issuer).origin });
  const account = await server.services.accounts.create({ email: 'outage-passkey@example.com', name: 'Outage', password: PASSWORD });
  const options = await server.services.passkeys.registrationOptions(account, 'binding');
  assert.ok((await server.services.passkeys.register(account.id, 'binding', options.challenge, device.register(options), 'Key')).ok);

  const flow = await start(server);
  await post(flow, 'login', { email: account.email, password: PASSWORD });
  const action = formAction(flow.page.html, 'passkey');
  assert.ok(action);
  const answer = device.authenticate(requestOptions(flow.page.html));
  const send = () => submitForm(flow.jar, new URL(action, flow.page.url), { csrf: csrfToken(flow.page.html), response: answer });

  proxy.cut();
  const during = await send();
  assert.equal(during.status, 503);
  assert.ok(during.headers.get('retry-after'));
  await proxy.restore();

  // Back: the same answer signs in (its challenge was not spent, nothing was counted).
  let after: Response | undefined;
  for (let attempt = 0; attempt < 20 && after?.status !== 303; attempt += 1) {
    after = await send();
    if (after.status === 503) await new Promise((resolve) => setTimeout(resolve, 500));
  }
  assert.equal(after?.status, 303);
  assert.doesNotMatch(after?.headers.get('location') ?? '', /\/interaction\//, 'on to the client, not back to a page');
});
