import assert from 'node:assert/strict';

import * as oidc from 'openid-client';

import { authorizationRequest, CookieJar, csrfToken, openPage, submitForm, type Page } from './browserless-login.ts';
import type { SmtpSink } from './smtp-sink.ts';
import type { TestServer } from './test-server.ts';

// The sign-in pages with a second factor, driven over plain HTTP as a browser would, for the
// second-factor flow tests (test/interactions/second-factor*.flow.test.ts): two clients, one
// of which requires a second factor of everyone, and a sign-in that posts the pages' forms
// by name (login, mailbox, code, enrol, continue, confirm) and follows where they lead.

export const REDIRECT = 'http://localhost:8080/callback';
export const APP = 'mfa-app';
export const STRICT_APP = 'strict-app';
export const PASSWORD = 'a long and unguessable password';
export const ACR_MFA = 'urn:portcullis:acr:mfa';
export const ACR_PWD = 'urn:portcullis:acr:pwd';
export const STEP_MS = 30_000;

export const declaration = {
  clients: [
    { clientId: APP, name: 'MFA App', type: 'web' as const, redirectUris: [REDIRECT], scopes: ['openid', 'email'] },
    // Registered as requiring a second factor of everyone who signs in to it.
    { clientId: STRICT_APP, name: 'Strict App', type: 'web' as const, redirectUris: [REDIRECT], scopes: ['openid', 'email'], requireMfa: true },
  ],
};

/** openid-client for one of the declared clients. */
export const discover = (server: TestServer, clientId: string) =>
  oidc.discovery(new URL(server.issuer), clientId, undefined, oidc.ClientSecretBasic(server.declared.clientSecret(clientId)), { execute: [oidc.allowInsecureRequests] });

export interface Flow {
  readonly jar: CookieJar;
  readonly verifier: string;
  readonly state: string;
  page: Page;
}

/** Where a response leads: the next page (redirects followed within the issuer), or the callback. */
export async function follow(jar: CookieJar, response: Response, base: URL): Promise<Page> {
  const location = response.headers.get('location');
  if (response.status >= 300 && response.status < 400 && location) {
    await response.body?.cancel();
    return openPage(jar, new URL(location, base));
  }
  return { response, url: base, html: await response.text() };
}

export const formAction = (html: string, name: string): string | undefined => new RegExp(`action="(/interaction/[^"]+/${name})"`).exec(html)?.[1];

/** The enrolment page's key to type by hand, without its spaces. */
export const keyOf = (html: string): string | undefined => /id="totp-key">([A-Z2-7 ]+)</.exec(html)?.[1]?.replaceAll(' ', '');

/** Posts the page's form `name` (with its CSRF token) and follows the answer. */
export async function post(flow: Flow, name: string, fields: Record<string, string>): Promise<Page> {
  const action = formAction(flow.page.html, name);
  assert.ok(action, `the page has a ${name} form: ${flow.page.html.slice(0, 400)}`);
  const url = new URL(action, flow.page.url);
  flow.page = await follow(flow.jar, await submitForm(flow.jar, url, { csrf: csrfToken(flow.page.html), ...fields }), url);
  return flow.page;
}

/** A new sign-in at APP (other parameters, such as client_id, override). */
export async function start(server: TestServer, params: Record<string, string> = {}, jar = new CookieJar()): Promise<Flow> {
  const request = authorizationRequest(server.issuer, { client_id: APP, redirect_uri: REDIRECT, scope: 'openid email', ...params });
  return { jar, verifier: request.verifier, state: request.state, page: await openPage(jar, request.url) };
}

/** Consents when asked; true once the browser is at the client's callback with a code. */
export async function atCallback(flow: Flow): Promise<boolean> {
  if (formAction(flow.page.html, 'confirm')) await post(flow, 'confirm', {});
  return flow.page.url.href.startsWith(REDIRECT) && flow.page.url.searchParams.has('code');
}

/** The ID token's claims of a sign-in that reached the callback. */
export async function idTokenClaims(app: oidc.Configuration, flow: Flow) {
  assert.ok(await atCallback(flow), `at the callback: ${flow.page.url.href} ${flow.page.html.slice(0, 300)}`);
  const tokens = await oidc.authorizationCodeGrant(app, flow.page.url, { pkceCodeVerifier: flow.verifier, expectedState: flow.state });
  return tokens.claims()!;
}

/** The latest code mailed to `email` before an enrolment (or with another subject), as the mail shows it ("12345 67890"). */
export async function mailedCode(server: TestServer, sink: SmtpSink, email: string, subject = 'Your code to set up two-step verification'): Promise<string> {
  await server.mailer.idle();
  const mail = sink.to(email).filter((message) => message.subject === subject).at(-1);
  assert.ok(mail, `a code was mailed to ${email}`);
  const code = /^(\d{5} \d{5})$/m.exec(mail.text ?? '')?.[1];
  assert.ok(code, `the mail shows a code: ${mail.text}`);
  return code;
}

/** At the page asking for the mailed code: types it back, and is at the enrolment page. */
export async function proveMailbox(server: TestServer, sink: SmtpSink, flow: Flow, email: string): Promise<Page> {
  assert.ok(formAction(flow.page.html, 'mailbox'), `the page asks for the mailed code: ${flow.page.html.slice(0, 400)}`);
  await post(flow, 'mailbox', { code: await mailedCode(server, sink, email) });
  assert.ok(formAction(flow.page.html, 'enrol'), `the enrolment page: ${flow.page.html.slice(0, 400)}`);
  return flow.page;
}
