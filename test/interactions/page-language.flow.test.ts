import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { authorizationRequest, CookieJar, send } from '../helpers/browserless-login.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// The language of the pages over real HTTP: the client's ui_locales (which the engine
// keeps with the interaction) first, then the browser's Accept-Language, else English.

const REDIRECT = 'http://localhost:8080/callback';

let server: TestServer;

before(async () => {
  server = await startTestServer({}, { declare: { clients: [{ clientId: 'lang-app', name: 'Sprach-App', type: 'web', redirectUris: [REDIRECT] }] } });
});

after(async () => {
  await server?.close();
});

/** Follows the authorization request to its first page, with this Accept-Language. */
async function firstPage(params: Record<string, string>, acceptLanguage?: string): Promise<{ status: number; html: string; vary: string }> {
  const jar = new CookieJar();
  let url = authorizationRequest(server.issuer, { client_id: 'lang-app', redirect_uri: REDIRECT, ...params }).url;
  const headers: Record<string, string> = { accept: 'text/html', ...(acceptLanguage && { 'accept-language': acceptLanguage }) };
  for (let step = 0; step < 5; step++) {
    const response = await send(jar, url, { headers });
    const location = response.headers.get('location');
    if (location) {
      url = new URL(location, url);
      continue;
    }
    return { status: response.status, html: await response.text(), vary: response.headers.get('vary') ?? '' };
  }
  throw new Error('too many redirects');
}

describe('the page language', () => {
  test('ui_locales=de gives the login page in German, whatever the browser prefers', async () => {
    const page = await firstPage({ ui_locales: 'fr-CA de' }, 'en-US,en;q=0.9');
    assert.equal(page.status, 200);
    assert.match(page.html, /<html lang="de">/);
    assert.match(page.html, /<h1>Anmelden<\/h1>/);
    assert.match(page.html, /um mit <strong>Sprach-App<\/strong> fortzufahren/);
  });

  test('Accept-Language: de gives German; a language we do not speak gives English', async () => {
    const german = await firstPage({}, 'de-CH,de;q=0.9,en;q=0.5');
    assert.match(german.html, /<label for="email">E-Mail<\/label>/);
    assert.match(german.vary, /Accept-Language/i);
    const english = await firstPage({}, 'ja');
    assert.match(english.html, /<html lang="en">/);
    assert.match(english.html, /<h1>Sign in<\/h1>/);
  });

  test('the engine’s own error page follows Accept-Language too', async () => {
    const page = await firstPage({ redirect_uri: 'http://evil.example/x' }, 'de');
    assert.equal(page.status, 400);
    assert.match(page.html, /<h1>Diese Anwendung darf nicht hierher weiterleiten<\/h1>/);
    assert.match(page.html, /<dt>Fehlercode<\/dt>/);
  });
});
