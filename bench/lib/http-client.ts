import { Agent, request, type IncomingHttpHeaders } from 'node:http';

// A small keep-alive HTTP/1.1 client over node:http: lighter than fetch, so the load
// generator takes less of the machine from the servers it measures.

export interface HttpResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface RequestInit {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

export class HttpClient {
  readonly origin: string;
  readonly #url: URL;
  readonly #agent: Agent;

  /** At most `connections` sockets to the origin, kept open; further requests queue. */
  constructor(origin: string, connections: number) {
    this.origin = origin;
    this.#url = new URL(origin);
    this.#agent = new Agent({ keepAlive: true, maxSockets: connections });
  }

  /** `target` is a path or an absolute URL on this origin. */
  request(target: string, init: RequestInit = {}): Promise<HttpResponse> {
    const url = new URL(target, this.#url);
    const headers = { ...init.headers, ...(init.body !== undefined && { 'content-length': String(Buffer.byteLength(init.body)) }) };
    return new Promise((resolve, reject) => {
      const req = request(
        { host: url.hostname, port: url.port, path: url.pathname + url.search, method: init.method ?? 'GET', headers, agent: this.#agent },
        (res) => {
          const chunks: string[] = [];
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: chunks.join('') }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(init.body);
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}

/** The cookies of one user agent; no domain or path matching (one origin per jar). */
export class CookieJar {
  readonly #cookies = new Map<string, string>();

  store(response: HttpResponse): void {
    for (const header of response.headers['set-cookie'] ?? []) {
      const pair = header.split(';', 1)[0] ?? '';
      const index = pair.indexOf('=');
      if (index < 0) continue;
      const name = pair.slice(0, index).trim();
      const value = pair.slice(index + 1).trim();
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(header)) this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }

  header(): string {
    return [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
}

export const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
export const FORM = 'application/x-www-form-urlencoded';
