import { createHash, randomBytes } from 'node:crypto';

import { CookieJar, FORM, form, type HttpResponse } from './http-client.ts';
import { RefreshChains, requireSetup, type BenchUser, type Credentials, type Target } from './target.ts';

// The operations the scenarios are made of. Each returns the status that ends it ("200",
// "429", or a label such as "200 inactive" when the status alone would hide a failure),
// and works the same against Portcullis and the bare engine.

export type Operation = (target: Target) => Promise<string>;

const basic = (client: Credentials) => `Basic ${Buffer.from(`${encodeURIComponent(client.id)}:${encodeURIComponent(client.secret)}`).toString('base64')}`;

function tokenRequest(target: Target, client: Credentials, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<HttpResponse> {
  const { endpoints } = requireSetup(target);
  return target.http.request(endpoints.token, {
    method: 'POST',
    headers: { authorization: basic(client), 'content-type': FORM, ...headers },
    body: form(fields),
  });
}

export function get(path: string | ((target: Target) => string)): Operation {
  return async (target) => String((await target.http.request(typeof path === 'string' ? path : path(target))).status);
}

export const jwksPath = (target: Target) => requireSetup(target).endpoints.jwks;

/** A client-credentials token for the JWT or the opaque resource server. */
export function clientCredentials(format: 'jwt' | 'opaque', headers: () => Record<string, string> = () => ({})): Operation {
  return async (target) => {
    const { setup } = requireSetup(target);
    const response = await tokenRequest(target, setup.service, { grant_type: 'client_credentials', resource: setup.resources[format], scope: setup.scope }, headers());
    return String(response.status);
  };
}

/** Mints opaque tokens for introspection to cycle through (once per target). */
export async function mintOpaqueTokens(target: Target, count = 200): Promise<void> {
  if (target.state.opaqueTokens) return;
  const { setup } = requireSetup(target);
  const tokens: string[] = [];
  for (let i = 0; i < count; i++) {
    const response = await tokenRequest(target, setup.service, { grant_type: 'client_credentials', resource: setup.resources.opaque, scope: setup.scope });
    if (response.status !== 200) throw new Error(`${target.name}: client credentials answered ${response.status}: ${response.body}`);
    tokens.push((JSON.parse(response.body) as { access_token: string }).access_token);
  }
  target.state.opaqueTokens = tokens;
}

let introspected = 0;
/** A resource server introspects one of the pool's opaque tokens. */
export const introspect: Operation = async (target) => {
  const { setup, endpoints } = requireSetup(target);
  const tokens = target.state.opaqueTokens ?? [];
  const token = tokens[introspected++ % tokens.length] ?? '';
  const response = await target.http.request(endpoints.introspection, {
    method: 'POST',
    headers: { authorization: basic(setup.resourceServer), 'content-type': FORM },
    body: form({ token }),
  });
  if (response.status === 200 && !response.body.includes('"active":true')) return '200 inactive';
  return String(response.status);
};

let users = 0;
/**
 * A whole browser login with a fresh user agent: authorization request (PKCE, the JWT
 * resource, offline_access, prompt=consent so the consent page is shown every time), the
 * login form (argon2id), the consent form, the redirect with the code, the code exchange.
 * Returns the final status and, on success, the refresh token.
 */
export async function signIn(target: Target, user?: BenchUser): Promise<{ status: string; refreshToken?: string }> {
  const { setup, endpoints } = requireSetup(target);
  const person = user ?? setup.users[users++ % setup.users.length]!;
  const jar = new CookieJar();
  const send = async (url: string, init: { method?: string; body?: string } = {}) => {
    const response = await target.http.request(url, {
      ...init,
      headers: { accept: 'text/html', cookie: jar.header(), ...(init.body !== undefined && { 'content-type': FORM }) },
    });
    jar.store(response);
    return response;
  };
  const verifier = randomBytes(32).toString('base64url');
  const query = form({
    client_id: setup.web.id,
    redirect_uri: setup.web.redirectUri,
    response_type: 'code',
    scope: `openid offline_access ${setup.scope}`,
    resource: setup.resources.jwt,
    prompt: 'consent',
    state: randomBytes(8).toString('base64url'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  });
  let url = new URL(`${endpoints.authorization}?${query}`, target.http.origin);
  let response = await send(url.href);
  let code: string | null = null;
  for (let step = 0; step < 12 && code === null; step++) {
    const location = response.headers.location;
    if (response.status >= 300 && response.status < 400 && location) {
      url = new URL(location, url);
      if (url.href.startsWith(setup.web.redirectUri)) code = url.searchParams.get('code') ?? '';
      else response = await send(url.href);
      continue;
    }
    if (response.status !== 200) return { status: `${response.status} at ${url.pathname.split('/')[1]}` };
    const csrf = /name="csrf" value="([^"]+)"/.exec(response.body)?.[1];
    const login = /action="(\/interaction\/[^"]+\/login)"/.exec(response.body)?.[1];
    const confirm = /action="(\/interaction\/[^"]+\/confirm)"/.exec(response.body)?.[1];
    const fields: Record<string, string> = csrf ? { csrf } : {};
    if (login) response = await send(login, { method: 'POST', body: form({ ...fields, email: person.email, password: person.password }) });
    else if (confirm) response = await send(confirm, { method: 'POST', body: form(fields) });
    else return { status: 'unexpected page' };
  }
  if (!code) return { status: code === '' ? 'no code' : 'too many steps' };
  const token = await tokenRequest(target, setup.web, { grant_type: 'authorization_code', code, redirect_uri: setup.web.redirectUri, code_verifier: verifier });
  if (token.status !== 200) return { status: String(token.status) };
  return { status: '200', refreshToken: (JSON.parse(token.body) as { refresh_token?: string }).refresh_token };
}

export const login: Operation = async (target) => (await signIn(target)).status;

/** Independent grants to refresh, each from its own login (once per target). */
export async function ensureChains(target: Target, count: number): Promise<void> {
  const chains = (target.state.chains ??= new RefreshChains([]));
  while (chains.size < count) {
    const batch = await Promise.all(Array.from({ length: Math.min(10, count - chains.size) }, () => signIn(target)));
    for (const result of batch) {
      if (!result.refreshToken) throw new Error(`${target.name}: a login for a refresh chain ended with ${result.status}`);
      chains.add(result.refreshToken);
    }
  }
}

/** Refresh with rotation: each request presents the refresh token the previous one returned. */
export const refresh: Operation = async (target) => {
  const { setup } = requireSetup(target);
  const chains = target.state.chains;
  if (!chains) throw new Error('no refresh chains prepared');
  const token = await chains.take();
  let next: string | undefined;
  try {
    const response = await tokenRequest(target, setup.web, { grant_type: 'refresh_token', refresh_token: token });
    if (response.status === 200) next = (JSON.parse(response.body) as { refresh_token?: string }).refresh_token;
    return response.status === 200 && !next ? '200 without refresh token' : String(response.status);
  } finally {
    if (next) chains.give(next);
    else chains.lose();
  }
};

/** Picks one operation at random in the given proportions. */
export function mix(parts: readonly (readonly [weight: number, Operation])[]): Operation {
  const total = parts.reduce((sum, [weight]) => sum + weight, 0);
  return (target) => {
    let pick = Math.random() * total;
    for (const [weight, operation] of parts) {
      pick -= weight;
      if (pick < 0) return operation(target);
    }
    return parts[parts.length - 1]![1](target);
  };
}

/**
 * A noisy client from one address: token requests with a wrong secret, far beyond its
 * budgets. Both the address's and the credential throttle's limits apply.
 */
export function flood(address: string): Operation {
  const stranger = { id: 'bench-flooder', secret: 'not the secret' };
  return async (target) => {
    const response = await target.http.request(requireSetup(target).endpoints.token, {
      method: 'POST',
      headers: { authorization: basic(stranger), 'content-type': FORM, 'x-forwarded-for': address },
      body: form({ grant_type: 'client_credentials' }),
    });
    return String(response.status);
  };
}
