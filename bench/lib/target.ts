import type { HttpClient } from './http-client.ts';

// What the scenarios run against: a server process and how to talk to it. Portcullis and
// the bare engine get the same clients, resource servers and users (BenchSetup), so every
// operation is written once for both.

export interface Credentials {
  readonly id: string;
  readonly secret: string;
}

export interface BenchUser {
  readonly email: string;
  readonly password: string;
}

export interface BenchSetup {
  /** Client credentials for both resource servers. */
  readonly service: Credentials;
  /** A resource server's client that introspects the opaque tokens. */
  readonly resourceServer: Credentials;
  /** A confidential web app: authorization code with PKCE, refresh tokens. */
  readonly web: Credentials & { readonly redirectUri: string };
  /** Resource indicators: one issued ES256 JWT access tokens, one opaque (stored) tokens. */
  readonly resources: { readonly jwt: string; readonly opaque: string };
  /** The scope both resource servers offer. */
  readonly scope: string;
  readonly users: readonly BenchUser[];
}

/** Endpoint paths, from the server's own discovery document. */
export interface Endpoints {
  readonly authorization: string;
  readonly token: string;
  readonly introspection: string;
  readonly jwks: string;
}

export interface Target {
  /** As the tables show it: "Portcullis", "bare oidc-provider", "Koa hello world"... */
  readonly name: string;
  readonly pid: number;
  readonly http: HttpClient;
  /** Portcullis only: its database, whose backends and transactions count as its own. */
  readonly database?: string;
  /** Authorization servers only. */
  readonly setup?: BenchSetup;
  readonly endpoints?: Endpoints;
  /** Resident memory once idle after start (servers.ts), and 2 s after it first answered (`started`), in bytes. */
  readonly idle: { readonly rss: number; readonly peak: number; readonly started?: number };
  /** Data the scenarios prepare once and reuse (token pools, refresh chains). */
  readonly state: TargetState;
}

export interface TargetState {
  opaqueTokens?: string[];
  chains?: RefreshChains;
}

/**
 * Refresh tokens of independent grants, each used by one request at a time: a request takes
 * one, and gives back the token that replaced it. A chain whose refresh failed is lost.
 */
export class RefreshChains {
  readonly #free: string[];
  readonly #waiting: { resolve: (token: string) => void; reject: (error: Error) => void }[] = [];
  #busy = 0;

  constructor(tokens: readonly string[]) {
    this.#free = [...tokens];
  }

  get size(): number {
    return this.#free.length + this.#busy;
  }

  take(): Promise<string> {
    const token = this.#free.pop();
    if (token !== undefined) {
      this.#busy += 1;
      return Promise.resolve(token);
    }
    if (this.#busy === 0) return Promise.reject(new Error('every refresh chain failed'));
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }));
  }

  give(token: string): void {
    const next = this.#waiting.shift();
    if (next) next.resolve(token);
    else {
      this.#busy -= 1;
      this.#free.push(token);
    }
  }

  lose(): void {
    this.#busy -= 1;
    if (this.#busy > 0 || this.#free.length > 0) return;
    for (const waiter of this.#waiting.splice(0)) waiter.reject(new Error('every refresh chain failed'));
  }

  add(token: string): void {
    this.#busy += 1;
    this.give(token);
  }
}

export function requireSetup(target: Target): { setup: BenchSetup; endpoints: Endpoints } {
  if (!target.setup || !target.endpoints) throw new Error(`${target.name} is not an authorization server`);
  return { setup: target.setup, endpoints: target.endpoints };
}
