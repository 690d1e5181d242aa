import assert from 'node:assert/strict';

import { CookieJar, openPage, runBrowser, send, type Page } from './browserless-login.ts';

// The account page (/account) driven over HTTP as a browser does: signed out, it starts the
// code flow of its own client, through the login page, back to the page.

export const accountUrl = (issuer: string, path = '') => new URL(`/account${path}`, issuer);

/**
 * Opens /account signed out and signs in with `email` and `password` (and `secondFactor`, a
 * code or recovery code, for a person who has one); the page it lands on.
 */
export async function signInToAccountPage(issuer: string, email: string, password: string, jar = new CookieJar(), secondFactor?: string): Promise<{ jar: CookieJar; page: Page }> {
  const start = await send(jar, accountUrl(issuer));
  assert.equal(start.status, 302);
  const auth = new URL(start.headers.get('location')!);
  const result = await runBrowser(auth, { jar, email, password, secondFactor: () => secondFactor, stopAt: (url) => url.pathname === '/account/callback' });
  assert.equal(result.url.pathname, '/account/callback', `the sign-in came back to the page: ${result.url.href}`);
  const page = await openPage(jar, result.url);
  return { jar, page };
}

/** Whether this browser is signed out of the page (it is sent to a sign-in). */
export async function signedOutOfAccountPage(issuer: string, jar: CookieJar): Promise<boolean> {
  const response = await send(jar, accountUrl(issuer));
  return response.status === 302 && new URL(response.headers.get('location')!).pathname === '/auth';
}

// Development without SMTP_URL logs each mail with its text: what the page's mails carry,
// read back from a test server's log (the newest one).

/** The newest mailed code (two groups of five digits) in the log, after the queue is idle. */
export async function loggedMailCode(server: { logs(): string; mailer: { idle(): Promise<void> } }): Promise<string | undefined> {
  await server.mailer.idle();
  return [...server.logs().matchAll(/(?<!\d)(\d{5} \d{5})(?!\d)/g)].at(-1)?.[1];
}

/** The newest change-of-address link in the log, after the queue is idle. */
export async function loggedAddressLink(server: { logs(): string; mailer: { idle(): Promise<void> } }): Promise<string | undefined> {
  await server.mailer.idle();
  return [...server.logs().matchAll(/http:\/\/[^\s"\\]+\/account\/email\/confirm\?token=[A-Za-z0-9_-]+/g)].at(-1)?.[0];
}
