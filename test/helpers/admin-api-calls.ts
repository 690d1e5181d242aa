import { randomUUID } from 'node:crypto';

import * as oidc from 'openid-client';
import { Secret, TOTP } from 'otpauth';

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

export interface AdminTestPerson {
  readonly id: string;
  readonly email: string;
  readonly password: string;
  /** Unused recovery codes of the authenticator set up for an admin (the admin role requires a second factor). */
  readonly recoveryCodes: string[];
}

/**
 * A person with a password and these roles; `prefix` names the test file in the email.
 * One with the admin role has an authenticator too (MFA_REQUIRED_ROLES is admin by default),
 * and signs in with its recovery codes, one per sign-in.
 */
export async function newAdminTestPerson(server: TestServer, prefix: string, roles: string[] = []): Promise<AdminTestPerson> {
  const email = `${prefix}${++people}-${randomUUID().slice(0, 8)}@example.com`;
  const password = `password of ${email}`;
  const account = await server.services.accounts.create({ email, name: `Person ${people}`, password, roles });
  const recoveryCodes = roles.includes('admin') ? [...(await enrolAuthenticator(server, account))] : [];
  return { id: account.id, email, password, recoveryCodes };
}

/** Sets up an authenticator for the account as its enrolment page would; its recovery codes. */
export async function enrolAuthenticator(server: TestServer, account: { id: string; email: string }): Promise<readonly string[]> {
  const factors = server.services.secondFactors;
  const enrolment = await factors.startEnrolment(account, 'test-enrolment');
  if (!enrolment) throw new Error('the account has an authenticator already');
  const codes = await factors.confirmEnrolment(account.id, 'test-enrolment', enrolment.sealed, TOTP.generate({ secret: Secret.fromBase32(enrolment.secret) }));
  if (!codes) throw new Error('the enrolment was not confirmed');
  return codes;
}

/** A person's token for the admin resource through the code flow (login, second factor and consent pages), with `web`. */
export async function adminPersonToken(web: oidc.Configuration, adminResource: string, person: { email: string; password: string; recoveryCodes?: string[] }) {
  const verifier = oidc.randomPKCECodeVerifier();
  const parameters = new URLSearchParams({
    redirect_uri: ADMIN_TEST_REDIRECT,
    scope: 'openid admin:read admin:write',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    resource: adminResource,
  });
  const browser = await runBrowser(oidc.buildAuthorizationUrl(web, parameters), { ...person, secondFactor: () => person.recoveryCodes?.shift() });
  return oidc.authorizationCodeGrant(web, browser.url, { pkceCodeVerifier: verifier, expectedState: oidc.skipStateCheck });
}
