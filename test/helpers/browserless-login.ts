// Drives the login and consent pages over plain HTTP, as a browser would (cookies,
// redirects, form posts), for the protocol flow tests. The real-browser tests of the
// pages themselves live in test/e2e.

export class CookieJar {
  readonly #cookies = new Map<string, string>();

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

  header(): string {
    return [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
}

export interface BrowserOptions {
  email?: string;
  password?: string;
  /** What to answer on the consent page. */
  consent?: 'allow' | 'deny';
  jar?: CookieJar;
}

export interface BrowserResult {
  /** The URL the user agent was finally sent to outside the issuer (the client's callback). */
  readonly url: URL;
  /** Pages seen on the way, by kind. */
  readonly pages: string[];
  readonly jar: CookieJar;
}

async function send(jar: CookieJar, url: URL, init: RequestInit = {}): Promise<Response> {
  const response = await fetch(url, {
    ...init,
    redirect: 'manual',
    headers: { ...(init.headers as Record<string, string>), cookie: jar.header() },
  });
  jar.store(response);
  return response;
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
      if (next.origin !== start.origin) return { url: next, pages, jar };
      current = next;
      response = await send(jar, next);
      continue;
    }
    const html = await response.text();
    const form = (action: string, body: Record<string, string>) =>
      send(jar, new URL(action, current), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(body).toString(),
      });
    const login = /action="(\/interaction\/[^"]+\/login)"/.exec(html);
    const confirm = /action="(\/interaction\/[^"]+\/confirm)"/.exec(html);
    const abort = /action="(\/interaction\/[^"]+\/abort)"/.exec(html);
    if (login?.[1]) {
      if (pages.includes('login-failed')) throw new Error('login failed');
      pages.push(response.status === 401 ? 'login-failed' : 'login');
      if (response.status === 401) return { url: current, pages, jar };
      response = await form(login[1], { email: options.email ?? '', password: options.password ?? '' });
    } else if (confirm?.[1] && abort?.[1]) {
      pages.push('consent');
      response = options.consent === 'deny' ? await form(abort[1], {}) : await form(confirm[1], {});
    } else {
      throw new Error(`unexpected page ${response.status} at ${current.href}: ${html.slice(0, 500)}`);
    }
    current = new URL(response.url || current.href);
  }
  throw new Error('too many steps');
}
