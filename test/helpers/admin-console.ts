import assert from 'node:assert/strict';

import { CookieJar, openPage, runBrowser, send, type Page } from './browserless-login.ts';

// The admin console (/admin) driven over HTTP as a browser does: signed out, it starts the
// code flow of its own client, through the login (and second factor) pages, back to the console.

export const consoleUrl = (issuer: string, path = '') => new URL(`/admin${path}`, issuer);

/** Opens /admin signed out and signs in (an admin gives `secondFactor`: a code or recovery code); the page it lands on. */
export async function signInToConsole(issuer: string, person: { email: string; password: string; recoveryCodes?: string[] }, jar = new CookieJar(), path = ''): Promise<{ jar: CookieJar; page: Page }> {
  const start = await send(jar, consoleUrl(issuer, path));
  assert.equal(start.status, 302);
  const auth = new URL(start.headers.get('location')!);
  const result = await runBrowser(auth, { jar, email: person.email, password: person.password, secondFactor: () => person.recoveryCodes?.shift(), stopAt: (url) => url.pathname === '/admin/callback' });
  assert.equal(result.url.pathname, '/admin/callback', `the sign-in came back to the console: ${result.url.href}`);
  const page = await openPage(jar, result.url);
  return { jar, page };
}
