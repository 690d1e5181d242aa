import { randomUUID } from 'node:crypto';

import * as oidc from 'openid-client';

import { runBrowser } from './browserless-login.ts';
import type { TestServer } from './test-server.ts';

// Calls to the admin API and the people who make them, for the admin flow tests
// (test/admin-api/*.flow.test.ts).

export const ADMIN_TEST_REDIRECT = 'http://localhost:8080/callback';

export interface AdminCallOptions {
  readonly token?: string;
  /** Sent as JSON. */
  readonly body?: unknown;
  /** Sent as is, instead of `body`. */
  readonly raw?: string;
  readonly headers?: Record<string, string>;
}

/** One request with a bearer token and a JSON body (or a raw one); the answer's text unparsed. */
export async function sendAdminRequest(url: string, method: string, options: AdminCallOptions = {}): Promise<{ status: number; headers: Headers; text: string }> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const body = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  if (body !== undefined) headers['content-type'] ??= 'application/json';
  const response = await fetch(url, { method, headers, body });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

let people = 0;

/** A person with a password and these roles; `prefix` names the test file in the email. */
export async function newAdminTestPerson(server: TestServer, prefix: string, roles: string[] = []) {
  const email = `${prefix}${++people}-${randomUUID().slice(0, 8)}@example.com`;
  const password = `password of ${email}`;
  const account = await server.services.accounts.create({ email, name: `Person ${people}`, password, roles });
  return { id: account.id, email, password };
}

/** A person's token for the admin resource through the code flow (login and consent pages), with `web`. */
export async function adminPersonToken(web: oidc.Configuration, adminResource: string, person: { email: string; password: string }) {
  const verifier = oidc.randomPKCECodeVerifier();
  const parameters = new URLSearchParams({
    redirect_uri: ADMIN_TEST_REDIRECT,
    scope: 'openid admin:read admin:write',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    resource: adminResource,
  });
  const browser = await runBrowser(oidc.buildAuthorizationUrl(web, parameters), person);
  return oidc.authorizationCodeGrant(web, browser.url, { pkceCodeVerifier: verifier, expectedState: oidc.skipStateCheck });
}
