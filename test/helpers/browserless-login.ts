// Drives the login and consent pages over plain HTTP, as a browser would (cookies,
// redirects, form posts), for the protocol flow tests. The real-browser tests of the
// pages themselves live in test/interactions/browser-flows.e2e.test.ts.

import { createHash, randomBytes } from 'node:crypto';

export class CookieJar {
  readonly #cookies = new Map<string, string>();
  /** The address this browser comes from, as a trusted proxy says it (X-Forwarded-For, with TRUST_PROXY). */
  forwardedFor: string | undefined;

  store(response: Response): void {
    for (const header of response.headers.getSetCookie()) {
      const [pair] = header.split(';');
      const index = pair?.indexOf('=') ?? -1;
      if (!pair || index < 0) continue;
      const name = pair.slice(0, index).trim();
      const value = pair.slice(index + 1).trim();
      if (/expires=Thu, 01 Jan 1970/i.test(header) || value === '') this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }

  get(name: string): string | undefined {
    return this.#cookies.get(name);
  }

  set(name: string, value: string): void {
    this.#cookies.set(name, value);
  }

  delete(name: string): void {
    this.#cookies.delete(name);
  }

  copy(): CookieJar {
    const copy = new CookieJar();
    copy.forwardedFor = this.forwardedFor;
    for (const [name, value] of this.#cookies) copy.set(name, value);
    return copy;
  }

  header(): string {
    return [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
}

export interface BrowserOptions {
  email?: string;
  password?: string;
  /** What to answer on the consent page. */
  consent?: 'allow' | 'deny';
  /** A code of the person's authenticator, or a recovery code, for the second-factor page (asked once). */
  secondFactor?: () => string | undefined;
  /** Sees every page's HTML before it is answered. */
  onPage?: (html: string) => void;
  jar?: CookieJar;
  /** Ends the walk at a redirect to this URL of the issuer's own (a first-party page's callback). */
  stopAt?: (url: URL) => boolean;
}

export interface BrowserResult {
  /** The URL the user agent was finally sent to outside the issuer (the client's callback). */
  readonly url: URL;
  /** Pages seen on the way, by kind. */
  readonly pages: string[];
  readonly jar: CookieJar;
}

/** One request with the jar's cookies; redirects are not followed. */
export async function send(jar: CookieJar, url: URL, init: RequestInit = {}): Promise<Response> {
  const response = await fetch(url, {
    ...init,
    redirect: 'manual',
    headers: { ...(jar.forwardedFor && { 'x-forwarded-for': jar.forwardedFor }), ...(init.headers as Record<string, string>), cookie: jar.header() },
  });
  jar.store(response);
  return response;
}

export interface Page {
  readonly response: Response;
  readonly url: URL;
  readonly html: string;
}

/** Follows redirects within the start URL's origin and returns the page they end on. */
export async function openPage(jar: CookieJar, start: URL): Promise<Page> {
  let url = start;
  for (let step = 0; step < 10; step++) {
    const response = await send(jar, url, { headers: { accept: 'text/html' } });
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      const next = new URL(location, url);
      if (next.origin !== start.origin) return { response, url: next, html: '' };
      url = next;
      continue;
    }
    return { response, url, html: await response.text() };
  }
  throw new Error('too many redirects');
}

/** Posts an HTML form as a browser does. */
export function submitForm(jar: CookieJar, url: URL, fields: Record<string, string>): Promise<Response> {
  return send(jar, url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
    body: new URLSearchParams(fields).toString(),
  });
}

/**
 * Opens an end-session URL and answers the engine's confirmation form "yes, sign me out"
 * (its own xsrf field), as the page's button does. Returns the confirmation's response.
 */
export async function confirmLogout(jar: CookieJar, endSession: URL): Promise<Response> {
  const html = await (await send(jar, endSession)).text();
  const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
  const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)?.[1];
  if (!action || !xsrf) throw new Error('the logout page holds no confirmation form');
  return submitForm(jar, new URL(action.replaceAll('&amp;', '&'), endSession), { xsrf, logout: 'yes' });
}

/** The CSRF token of a page's forms (every interaction form carries the same one). */
export function csrfToken(html: string): string {
  const token = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
  if (!token) throw new Error('the page has no CSRF token');
  return token;
}

/**
 * Follows an authorization request until the issuer sends the user agent elsewhere,
 * logging in and consenting on the way. Throws if a page is not understood.
 */
export async function runBrowser(start: URL, options: BrowserOptions = {}): Promise<BrowserResult> {
  const jar = options.jar ?? new CookieJar();
  const pages: string[] = [];
  let response = await send(jar, start);
  let current = start;
  for (let step = 0; step < 20; step++) {
    if (response.status >= 300 && response.status < 400) {
      const next = new URL(response.headers.get('location') ?? '', current);
      if (next.origin !== start.origin || options.stopAt?.(next)) return { url: next, pages, jar };
      current = next;
      response = await send(jar, next);
      continue;
    }
    const html = await response.text();
    options.onPage?.(html);
    const form = (action: string, body: Record<string, string>) =>
      send(jar, new URL(action, current), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(body).toString(),
      });
    const login = /action="(\/interaction\/[^"]+\/login)"/.exec(html);
    const confirm = /action="(\/interaction\/[^"]+\/confirm)"/.exec(html);
    // Deny is a second submit button of the consent form (formaction) or a form of its own.
    const abort = /action="(\/interaction\/[^"]+\/abort)"/.exec(html);
    const code = /action="(\/interaction\/[^"]+\/code)"/.exec(html);
    const csrf = { csrf: csrfToken(html) };
    if (code?.[1]) {
      const answer = pages.includes('second-factor') ? undefined : options.secondFactor?.();
      if (answer === undefined) throw new Error(`a second factor was asked for and not answered at ${current.href}`);
      pages.push('second-factor');
      response = await form(code[1], { ...csrf, code: answer });
    } else if (login?.[1]) {
      if (pages.includes('login-failed')) throw new Error('login failed');
      pages.push(response.status === 401 ? 'login-failed' : 'login');
      if (response.status === 401) return { url: current, pages, jar };
      response = await form(login[1], { ...csrf, email: options.email ?? '', password: options.password ?? '' });
    } else if (confirm?.[1] && abort?.[1]) {
      pages.push('consent');
      response = options.consent === 'deny' ? await form(abort[1], csrf) : await form(confirm[1], csrf);
    } else {
      throw new Error(`unexpected page ${response.status} at ${current.href}: ${html.slice(0, 500)}`);
    }
    current = new URL(response.url || current.href);
  }
  throw new Error('too many steps');
}

export interface AuthorizationRequest {
  readonly url: URL;
  readonly verifier: string;
  readonly state: string;
}

/** A PKCE authorization request to the issuer's /auth, as a client would build it. */
export function authorizationRequest(
  issuer: string,
  params: { client_id: string; redirect_uri: string; scope?: string } & Record<string, string>,
): AuthorizationRequest {
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(8).toString('base64url');
  const url = new URL('/auth', issuer);
  url.search = new URLSearchParams({
    response_type: 'code',
    scope: 'openid',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    state,
    ...params,
  }).toString();
  return { url, verifier, state };
}
